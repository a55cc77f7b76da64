"""What a model is given, and the validated records the server routes and monitors.

A model takes a polars DataFrame with one column per contract input, in contract order. Types:
``float`` → Float64, ``int`` → Int64, ``bool`` → Boolean, ``category`` → String (the contract's
spelling); a missing value is null. An imported model must accept this frame (``slipway model
import`` checks that it does). The one exception, recorded in the card as ``input: matrix``: a
model the kit trains for a contract of required numbers only is given the same values as a float
matrix in contract order (a DataFrame and its column dispatch cost more than such a prediction).

Usage::

    batch = InputBatch(contract, [values, ...])          # values: Contract.validate_record's output
    estimator.predict_proba(batch.model_input(card["input"]))
    batch.numbers, batch.categories                      # what routing and drift read
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from bentos.classifier.drift import FloatArray
from slipway.columns import POLARS_TYPES, as_floats
from slipway.contract import Contract, Value

MATRIX, FRAME = "matrix", "frame"


def input_format(contract: Contract) -> str:
    """How the kit's own models for this contract take their input."""
    return MATRIX if all(f.numeric and f.required for f in contract.inputs) else FRAME


def model_input(frame: pl.DataFrame, form: str) -> pl.DataFrame | FloatArray:
    """A frame of contract inputs as the model takes it (training and evaluation)."""
    return numeric_matrix(frame, frame.columns) if form == MATRIX else frame


def input_schema(contract: Contract) -> dict[str, pl.DataType]:
    return {f.name: POLARS_TYPES[f.type] for f in contract.inputs}


def model_frame(contract: Contract, rows: Sequence[Mapping[str, Value | None]]) -> pl.DataFrame:
    schema = input_schema(contract)
    # row tuples: several times faster than a dict of per-column lists for the one-record requests
    return pl.DataFrame([tuple(row.get(name) for name in schema) for row in rows], schema=schema, orient="row")


def numeric_matrix(frame: pl.DataFrame, names: Sequence[str]) -> FloatArray:
    """The named (numeric or bool) columns of a frame as floats; missing values are NaN."""
    if not names:
        return np.zeros((frame.height, 0))
    if list(names) == frame.columns and all(dtype == pl.Float64 for dtype in frame.dtypes):
        return frame.to_numpy().astype(np.float64, copy=False)
    return np.column_stack([as_floats(frame.get_column(name)) for name in names])


@dataclass(frozen=True)
class InputBatch:
    """Validated records of one request, viewed as the model, routing and drift need them."""

    contract: Contract
    rows: Sequence[Mapping[str, Value | None]]

    @functools.cached_property
    def numeric_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.contract.inputs if f.numeric)

    @functools.cached_property
    def numbers(self) -> FloatArray:
        """Numeric and bool inputs in contract order (missing = NaN), one row per record."""
        names = self.numeric_names
        values = [[math.nan if (v := row.get(n)) is None else float(v) for n in names] for row in self.rows]
        return np.asarray(values, dtype=np.float64).reshape(len(self.rows), len(names))

    @functools.cached_property
    def categories(self) -> dict[str, list[str | None]]:
        """Each category input's values (None = missing)."""
        names = [f.name for f in self.contract.inputs if f.type == "category"]
        return {n: [None if (v := row.get(n)) is None else str(v) for row in self.rows] for n in names}

    @functools.cached_property
    def frame(self) -> pl.DataFrame:
        return model_frame(self.contract, self.rows)

    def model_input(self, form: str) -> pl.DataFrame | FloatArray:
        return self.numbers if form == MATRIX else self.frame

    @classmethod
    def of_frame(cls, contract: Contract, frame: pl.DataFrame) -> InputBatch:
        """A batch of a frame's rows (tests and batch tools)."""
        return cls(contract, frame.select(contract.input_names).to_dicts())
