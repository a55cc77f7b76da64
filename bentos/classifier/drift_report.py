"""`slipway drift report DATA`: batch drift of a data file against the served model's reference.

For every contract feature: PSI against the training bins and the two-sample Kolmogorov-Smirnov
test against the training sample; a feature drifts when PSI > 0.25 or KS p < 0.01 (with at least
``MIN_ROWS`` rows). Writes ``drift.json`` and one PNG chart (reference vs current histogram) per
drifted feature.

Usage::

    report = drift_report(Path("data.parquet"), card, Path("reports/drift"))
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from bentos.classifier.drift import DRIFTED, ks, proportions, psi
from slipway.contract import FEATURE_NAMES, canonical_name
from slipway.errors import UsageError

KS_ALPHA = 0.01
MIN_ROWS = 30


def read_features(path: Path) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Contract features of a CSV or Parquet file (aliases accepted); rows with a missing value dropped."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path) if path.suffix in (".parquet", ".pq") else pacsv.read_csv(path)
    except FileNotFoundError:
        raise UsageError(f"no such data file: {path}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    columns = {canonical_name(c): c for c in table.column_names if canonical_name(c)}
    missing = [name for name in FEATURE_NAMES if name not in columns]
    if missing:
        raise UsageError(f"{path} lacks contract feature column(s): {', '.join(missing)}")
    try:
        matrix = np.column_stack([np.asarray(table[columns[n]].to_pylist(), dtype=np.float64) for n in FEATURE_NAMES])
    except (TypeError, ValueError):
        raise UsageError(f"{path}: feature columns must be numeric (run the pipeline first)") from None
    return matrix[~np.isnan(matrix).any(axis=1)]


def drift_report(data: Path, card: dict[str, Any], out: Path, *, model: str = "") -> dict[str, Any]:
    matrix = read_features(data)
    if len(matrix) < MIN_ROWS:
        raise UsageError(f"{data} has {len(matrix)} complete rows; a drift report needs at least {MIN_ROWS}")
    reference = card["drift"]
    features: dict[str, Any] = {}
    for index, name in enumerate(FEATURE_NAMES):
        column = matrix[:, index]
        spec = reference["features"][name]
        value_psi = psi(spec["expected"], proportions(column, spec["edges"]))
        statistic, p_value = ks(column, np.asarray(reference["sample"][name]))
        features[name] = {
            "psi": round(value_psi, 6),
            "ks_statistic": round(statistic, 6),
            "ks_pvalue": p_value,
            "drifted": bool(value_psi > DRIFTED or p_value < KS_ALPHA),
            "current_mean": float(column.mean()),
            "reference_mean": float(np.mean(reference["sample"][name])),
        }
    drifted = [name for name, f in features.items() if f["drifted"]]
    out.mkdir(parents=True, exist_ok=True)
    charts = {name: str(_chart(name, matrix[:, FEATURE_NAMES.index(name)], reference, out)) for name in drifted}
    report = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "data": str(data),
        "rows": len(matrix),
        "model": model,
        "thresholds": {"psi": DRIFTED, "ks_alpha": KS_ALPHA},
        "drifted": drifted,
        "features": features,
        "charts": charts,
    }
    (out / "drift.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _chart(name: str, current: np.ndarray[Any, Any], reference: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sample = np.asarray(reference["sample"][name])
    bins = np.histogram_bin_edges(np.concatenate([sample, current]), bins=30).tolist()
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.hist(sample, bins=bins, density=True, alpha=0.55, label="training reference")
    axes.hist(current, bins=bins, density=True, alpha=0.55, label="current data")
    axes.set_title(f"{name}: drift against the training reference")
    axes.set_xlabel(name)
    axes.set_ylabel("density")
    axes.legend()
    figure.tight_layout()
    path = out / f"drift-{name}.png"
    figure.savefig(path)
    plt.close(figure)
    return path
