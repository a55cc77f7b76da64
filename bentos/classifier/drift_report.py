"""`slipway drift report DATA`: batch drift of a data file against the served model's reference.

For every model input of the contract: PSI against the training bins (numbers, with missing values
as their own bin) or the training categories (with values training never had counted as
``unseen``), and for numbers the two-sample Kolmogorov-Smirnov test against the training sample. A
feature drifts when PSI > 0.25 or KS p < 0.01 (with at least ``MIN_ROWS`` rows). Writes
``drift.json`` and one PNG chart (reference vs current) per drifted feature.

Usage::

    report = drift_report(Path("data.parquet"), card, contract, Path("reports/drift"))
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bentos.classifier.drift import DRIFTED, category_shares, ks, numeric_shares, psi
from slipway.contract import Contract
from slipway.errors import UsageError

KS_ALPHA = 0.01
MIN_ROWS = 30


def read_inputs(path: Path, contract: Contract) -> pl.DataFrame:
    """The contract's model inputs of a data file (the pipeline's output, or any file it reads),
    checked as the pipeline checks them; rows the contract rejects are left out."""
    from pipelines.reader import read_data_file
    from pipelines.transform import apply_contract

    result = apply_contract(read_data_file(path).frame, contract, metadata=False)
    if result.missing_columns:
        raise UsageError(f"{path} lacks contract feature column(s): {', '.join(result.missing_columns)}")
    return result.valid.select(contract.input_names)


def drift_report(data: Path, card: dict[str, Any], contract: Contract, out: Path, *, model: str = "") -> dict[str, Any]:
    frame = read_inputs(data, contract)
    if frame.height < MIN_ROWS:
        raise UsageError(f"{data} has {frame.height} usable rows; a drift report needs at least {MIN_ROWS}")
    reference = card["drift"]
    features: dict[str, Any] = {}
    for name in card["features"]:
        spec = reference["features"][name]
        if spec["kind"] == "numeric":
            values = frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
            value_psi = psi(spec["expected"], numeric_shares(values, spec["edges"]))
            present = values[~np.isnan(values)]
            sample = np.asarray(reference["sample"][name])
            statistic, p_value = ks(present, sample) if len(present) else (float("nan"), 1.0)
            features[name] = {
                "kind": "numeric",
                "psi": round(value_psi, 6),
                "ks_statistic": round(statistic, 6),
                "ks_pvalue": p_value,
                "drifted": bool(value_psi > DRIFTED or p_value < KS_ALPHA),
                "current_mean": float(present.mean()) if len(present) else None,
                "reference_mean": float(sample.mean()),
                "missing_share": float(1 - len(present) / len(values)),
            }
        else:
            current = frame[name].to_list()
            shares = category_shares(current, spec["values"])
            value_psi = psi(spec["expected"], shares)
            features[name] = {
                "kind": "category",
                "psi": round(value_psi, 6),
                "drifted": bool(value_psi > DRIFTED),
                "shares": dict(zip([*spec["values"], "(unseen)", "(missing)"], shares.round(6).tolist(), strict=True)),
                "unseen_values": sorted({v for v in current if v is not None and v not in spec["values"]}),
            }
    drifted = [name for name, f in features.items() if f["drifted"]]
    out.mkdir(parents=True, exist_ok=True)
    charts = {name: str(_chart(name, frame[name], reference["features"][name], reference, out)) for name in drifted}
    report = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "data": str(data),
        "rows": frame.height,
        "model": model,
        "contract": contract.summary(),
        "thresholds": {"psi": DRIFTED, "ks_alpha": KS_ALPHA},
        "drifted": drifted,
        "features": features,
        "charts": charts,
    }
    (out / "drift.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _chart(name: str, current: pl.Series, spec: dict[str, Any], reference: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    if spec["kind"] == "numeric":
        sample = np.asarray(reference["sample"][name])
        values = current.cast(pl.Float64).drop_nulls().to_numpy()
        bins = np.histogram_bin_edges(np.concatenate([sample, values]), bins=30).tolist()
        axes.hist(sample, bins=bins, density=True, alpha=0.55, label="training reference")
        axes.hist(values, bins=bins, density=True, alpha=0.55, label="current data")
        axes.set_xlabel(name)
        axes.set_ylabel("density")
    else:
        labels = [*spec["values"], "(unseen)", "(missing)"]
        positions = np.arange(len(labels))
        axes.bar(positions - 0.2, spec["expected"], width=0.4, label="training reference")
        axes.bar(positions + 0.2, category_shares(current.to_list(), spec["values"]), width=0.4, label="current data")
        axes.set_xticks(positions, labels, rotation=30, ha="right")
        axes.set_ylabel("share")
    axes.set_title(f"{name}: drift against the training reference")
    axes.legend()
    figure.tight_layout()
    path = out / f"drift-{name}.png"
    figure.savefig(path)
    plt.close(figure)
    return path
