"""What a model is given: a polars DataFrame with one column per contract input, in contract order.

Types: ``float`` → Float64, ``int`` → Int64, ``bool`` → Boolean, ``category`` → String (the
contract's spelling); a missing value is null. The kit's own models are trained on exactly this
frame; an imported model must accept it too (``slipway model import`` checks that it does).

Usage::

    frame = model_frame(contract, [values, ...])        # values: Contract.validate_record's output
    numbers = numeric_matrix(frame, ["age", "income"])  # float matrix, missing = NaN
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from bentos.classifier.drift import FloatArray
from slipway.columns import POLARS_TYPES
from slipway.contract import Contract, Value


def input_schema(contract: Contract) -> dict[str, pl.DataType]:
    return {f.name: POLARS_TYPES[f.type] for f in contract.inputs}


def model_frame(contract: Contract, rows: Sequence[Mapping[str, Value | None]]) -> pl.DataFrame:
    schema = input_schema(contract)
    return pl.DataFrame({name: [row.get(name) for row in rows] for name in schema}, schema=schema)


def numeric_matrix(frame: pl.DataFrame, names: Sequence[str]) -> FloatArray:
    """The named (numeric or bool) columns as floats; missing values are NaN."""
    if not names:
        return np.zeros((frame.height, 0))
    return frame.select(pl.col(n).cast(pl.Float64) for n in names).to_numpy().astype(np.float64)
