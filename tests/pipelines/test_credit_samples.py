"""The second example's messy exports through the pipeline: categories, whole numbers, booleans,
optional values, renamed columns and semicolons — only the contract file says how."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from pipelines.config import load_config
from pipelines.run import run_pipeline
from slipway.signing import KeyStore
from tests.conftest import PROJECT_DIR

SAMPLES = PROJECT_DIR / "pipelines" / "samples" / "credit"


def _quarantine(out: Path) -> dict[int, str]:
    frames = [pl.read_parquet(p) for p in (out / "quarantine").rglob("*.parquet")]
    rows = pl.concat(frames).sort("row")
    return dict(zip(rows["row"].to_list(), rows["reason"].to_list(), strict=True))


def test_every_row_of_the_credit_samples_is_accounted_for(keys: KeyStore, tmp_path: Path) -> None:
    report = run_pipeline(load_config(SAMPLES / "pipeline.yaml"), tmp_path / "out")
    totals = report["totals"]
    assert (totals["rows_in"], totals["rows_out"], totals["quarantined"], totals["duplicates"]) == (101, 97, 3, 1)
    assert report["contract"]["name"] == "credit"
    assert _quarantine(tmp_path / "out") == {
        4: "out_of_range:region",  # atlantis is not an allowed region
        5: "bad_type:age",  # "forty" is not a whole number
        6: "out_of_range:employment",  # Self-Employed: '-' in a value is not '_' (values are data, not names)
    }
    partner = next(c for c in totals["schema_changes"] if c["file"].endswith("partner.csv"))
    assert partner["renamed"]["App ID"] == "application_id" and partner["renamed"]["DTI"] == "debt_to_income"
    data = pl.read_parquet(tmp_path / "out" / "data" / "records.parquet")
    assert data.schema["term_months"] == pl.Int64 and data.schema["prior_default"] == pl.Boolean
    branch = data.filter(pl.col("_source") == "branches")
    assert branch.filter(pl.col("application_id") == "br-00006")["employment"].to_list() == ["salaried"]  # SALARIED
    assert branch.filter(pl.col("application_id") == "br-00007")["term_months"].to_list() == [36]  # "36.0"
    assert branch.filter(pl.col("application_id") == "br-00008")["home"].to_list() == [None]  # optional blank
    assert branch.filter(pl.col("application_id") == "br-00010")["loan_amount"].to_list() == [9999.0]  # newer wins
    partner_rows = data.filter(pl.col("application_id").str.starts_with("pt-"))
    assert partner_rows.height == 40 and set(partner_rows["prior_default"].to_list()) <= {True, False}
    assert data["branch_code"].null_count() == 0  # pass-through values are kept


def test_the_credit_samples_are_reproducible(tmp_path: Path) -> None:
    import subprocess
    import sys

    copy = tmp_path / "repo"
    (copy / "contracts" / "examples").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "contracts" / "examples" / "make_credit.py", copy / "contracts" / "examples")
    subprocess.run([sys.executable, str(copy / "contracts" / "examples" / "make_credit.py")], check=True)
    for name in ("2026-11-10-branch.csv", "2026-11-11-partner.csv"):
        generated = copy / "pipelines" / "samples" / "credit" / "incoming" / name
        assert generated.read_bytes() == (SAMPLES / "incoming" / name).read_bytes(), name
    generated = copy / "contracts" / "examples" / "credit-applications.csv"
    assert generated.read_bytes() == (PROJECT_DIR / "contracts" / "examples" / "credit-applications.csv").read_bytes()
