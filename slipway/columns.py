"""The polars type of each contract feature type: one mapping for the pipeline's output, training
data and the frames models are given.

Usage::

    schema = {f.name: POLARS_TYPES[f.type] for f in contract.features}
    values = as_floats(frame["age"])     # numbers and bools as floats, missing = NaN
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

POLARS_TYPES: dict[str, pl.DataType] = {
    "float": pl.Float64(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
    "category": pl.String(),
    "string": pl.String(),
}


def as_floats(series: pl.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A numeric or bool column as floats; missing values are NaN."""
    values = series if series.dtype == pl.Float64 else series.cast(pl.Float64)
    return values.to_numpy().astype(np.float64, copy=False)
