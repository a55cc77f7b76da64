"""The Wisconsin data as most people have it (the UCI/Kaggle CSV: id, diagnosis M/B, radius_mean,
"concave points_worst", ...): matched by the wdbc contract's aliases, trained on as it is, and run
through the pipeline once the contract file (not the code) says records may come without a time."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from pipelines.config import load_config
from pipelines.run import run_pipeline
from slipway.contract import CONTRACTS, load_contract
from slipway.signing import KeyStore


def _kaggle_csv(path: Path) -> int:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    columns = []
    for name in data.feature_names:
        statistic, _, prop = str(name).partition(" ") if str(name).startswith(("mean ", "worst ")) else ("se", "", "")
        if statistic == "se":
            prop = str(name).removesuffix(" error")
        columns.append(f"{prop.replace('fractal dimension', 'fractal_dimension')}_{statistic}")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "diagnosis", *columns])
        for i, (row, target) in enumerate(zip(data.data, data.target, strict=True)):
            writer.writerow([842302 + i, "MB"[target], *row.tolist()])
    return len(data.data)


def test_the_uci_kaggle_csv_is_matched_column_by_column(keys: KeyStore, tmp_path: Path) -> None:
    rows = _kaggle_csv(tmp_path / "data.csv")
    header = (tmp_path / "data.csv").read_text().splitlines()[0]
    assert "concave points_mean" in header and "fractal_dimension_worst" in header and "radius_se" in header
    from lifecycle.data import load_labelled

    labelled = load_labelled(load_contract("wdbc"), tmp_path / "data.csv")
    assert labelled.rows == rows and labelled.rejected == 0
    assert set(labelled.labels.tolist()) == {"malignant", "benign"}

    # the file has no event time; the default contract requires one, so every row says exactly that
    (tmp_path / "in").mkdir()
    (tmp_path / "data.csv").rename(tmp_path / "in" / "data.csv")
    config = tmp_path / "pipeline.yaml"
    config.write_text("sources:\n  - {name: kaggle, kind: files, path: in}\n")
    strict = run_pipeline(load_config(config), tmp_path / "strict")
    assert strict["totals"]["quarantined"] == rows
    assert pl.read_parquet(next((tmp_path / "strict" / "quarantine").rglob("*.parquet")))["reason"][0] == (
        "column(s) missing: event_time"
    )
    # the engineer edits the contract file, not the kit: records without a time are accepted
    relaxed = (CONTRACTS / "wdbc.yaml").read_text(encoding="utf-8")
    relaxed = relaxed.replace("\nevent_time: event_time ", "\nevent_time: {field: event_time, required: false} ")
    (tmp_path / "wdbc-untimed.yaml").write_text(relaxed, encoding="utf-8")
    config.write_text("contract: wdbc-untimed.yaml\nsources:\n  - {name: kaggle, kind: files, path: in}\n")
    report = run_pipeline(load_config(config), tmp_path / "out")
    assert (report["totals"]["rows_out"], report["totals"]["quarantined"]) == (rows, 0)
    renamed = report["totals"]["schema_changes"][0]["renamed"]
    assert renamed["id"] == "record_id" and renamed["concave points_worst"] == "worst_concave_points"
    data = pl.read_parquet(tmp_path / "out" / "data" / "records.parquet")
    assert data["diagnosis"].unique().sort().to_list() == ["benign", "malignant"]  # M/B as the contract's classes
