"""Labelled records for training, import and evaluation, through the same contract as the pipeline.

The file's format is decided by its content (CSV with any common delimiter, JSON Lines, Parquet,
gzip; see ``pipelines.reader``); columns are matched by the contract's names and aliases; every
value is coerced and checked exactly as the pipeline does (``pipelines.transform``), but no record
key or event time is needed. Rows the contract rejects, or without a label, are counted, never
trained on.

``default_data: sklearn:<loader>`` in a contract names a data set bundled with scikit-learn
(``load_*`` only: nothing is downloaded); its integer target indexes the contract's classes.

Usage::

    data = load_labelled(contract, Path("labels.csv"))   # None: the contract's default_data
    data.frame, data.labels, data.rejected
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from slipway.contract import Contract
from slipway.errors import UsageError


@dataclass(frozen=True)
class LabelledData:
    frame: pl.DataFrame  # the model inputs, typed, in contract order
    labels: np.ndarray[Any, np.dtype[np.str_]]
    source: str
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.frame.height

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.frame.write_csv().encode())
        digest.update("\0".join(self.labels.tolist()).encode())
        return "sha256:" + digest.hexdigest()

    def subset(self, index: np.ndarray[Any, Any]) -> tuple[pl.DataFrame, np.ndarray[Any, np.dtype[np.str_]]]:
        return self.frame[index], self.labels[index]


def _source(contract: Contract, path: Path | None) -> tuple[pl.DataFrame, str, int]:
    """The raw records (text or typed), a description of where they came from, unparseable rows."""
    from pipelines.reader import read_data_file

    if path is None:
        spec = contract.default_data
        if spec is None:
            raise UsageError(f"contract {contract.name} names no default_data: give the labelled records with --data")
        if spec.startswith("sklearn:"):
            return _sklearn(contract, spec.removeprefix("sklearn:")), spec, 0
        path = (contract.source.parent if contract.source else Path.cwd()) / spec
    batch = read_data_file(path)
    return batch.frame, f"file:{path.name}", len(batch.malformed)


def load_labelled(contract: Contract, path: Path | None) -> LabelledData:
    from pipelines.reader import ROW
    from pipelines.transform import apply_contract

    frame, source, malformed = _source(contract, path)
    result = apply_contract(frame, contract, metadata=False)
    if result.missing_columns:
        raise UsageError(f"{source} lacks column(s) the contract {contract.name} requires: "
                         f"{', '.join(result.missing_columns)}")  # fmt: skip
    label = contract.label.field
    if label not in result.valid.columns or result.valid[label].null_count() == result.valid.height:
        raise UsageError(f"{source} has no labelled records (column {label!r}, classes {list(contract.classes)})")
    labelled = result.valid.filter(pl.col(label).is_not_null()).sort(ROW)
    reasons = Counter(result.rejected["category"].to_list())
    if malformed:
        reasons["malformed_row"] += malformed
    unlabelled = result.valid.height - labelled.height
    if unlabelled:
        reasons["missing_label"] += unlabelled
    return LabelledData(
        labelled.select(contract.input_names),
        np.asarray(labelled[label].to_list(), dtype=np.str_),
        source,
        sum(reasons.values()),
        dict(sorted(reasons.items())),
    )


def _sklearn(contract: Contract, loader: str) -> pl.DataFrame:
    import sklearn.datasets

    function = getattr(sklearn.datasets, loader, None) if loader.startswith("load_") else None
    if function is None:
        raise UsageError(f"contract {contract.name}: default_data sklearn:{loader} is not a bundled scikit-learn set")
    data = function()
    columns = {str(name): data.data[:, i] for i, name in enumerate(data.feature_names)}
    targets = data.target.astype(int)
    if targets.max() >= len(contract.classes):
        raise UsageError(f"sklearn:{loader} has {targets.max() + 1} classes; contract {contract.name} names "
                         f"{len(contract.classes)}")  # fmt: skip
    frame = pl.DataFrame(columns).with_columns(
        pl.Series(contract.label.field, [contract.classes[t] for t in targets.tolist()])
    )
    return frame.with_row_index("__row", offset=1).with_columns(pl.col("__row").cast(pl.Int64))
