"""The polars type of each contract feature type: one mapping for the pipeline's output, training
data and the frames models are given.

Usage::

    schema = {f.name: POLARS_TYPES[f.type] for f in contract.features}
"""

from __future__ import annotations

import polars as pl

POLARS_TYPES: dict[str, pl.DataType] = {
    "float": pl.Float64(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
    "category": pl.String(),
    "string": pl.String(),
}
