"""Apply the data contract to one batch: rename, coerce losslessly, validate, split good from bad.

Vectorised with polars (no Python loop per row). Renamed columns are resolved through the
contract's aliases; unknown columns are kept aside and reported; a missing required column
quarantines the whole batch. Values are coerced only when nothing is lost (``"12.5"``,
``"1,234.5"``; ``"N/A"``/empty → missing); anything else is ``bad_type``. Event times with offsets
are normalised to UTC; times without an offset are taken as UTC.

Usage::

    result = apply_contract(batch.frame)
    result.valid       # canonical columns, typed, + __row
    result.rejected    # __row, category, reason (+ the raw values of the row)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.reader import ROW
from slipway.contract import EVENT_TIME, FEATURES, LABEL, LABELS, RECORD_KEY, canonical_name

NULL_LIKE = ["", "n/a", "na", "null", "none", "nan", "-", "?"]
THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%:z",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%:z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
)
CONTRACT_COLUMNS = (RECORD_KEY, EVENT_TIME, *(f.name for f in FEATURES))
OPTIONAL_COLUMNS = (LABEL,)


@dataclass
class ContractResult:
    valid: pl.DataFrame
    rejected: pl.DataFrame
    new_columns: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)


def _canonical(column: str) -> str | None:
    if column in (RECORD_KEY, EVENT_TIME, LABEL):
        return column
    return canonical_name(column)


def _text(name: str) -> pl.Expr:
    value = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(value.str.to_lowercase().is_in(NULL_LIKE)).then(None).otherwise(value)


def _number(name: str) -> pl.Expr:
    text = _text(name)
    cleaned = pl.when(text.str.contains(THOUSANDS)).then(text.str.replace_all(",", "")).otherwise(text)
    return cleaned.cast(pl.Float64, strict=False)


def _timestamp(name: str) -> pl.Expr:
    text = _text(name)
    attempts = [
        text.str.to_datetime(
            fmt, strict=False, time_unit="us", time_zone="UTC" if "z" not in fmt.lower() else None
        ).dt.convert_time_zone("UTC")
        if ("%:z" in fmt)
        else text.str.to_datetime(fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC")
        for fmt in TIME_FORMATS
    ]
    return pl.coalesce(attempts)


def apply_contract(frame: pl.DataFrame) -> ContractResult:
    renamed: dict[str, str] = {}
    new_columns: list[str] = []
    mapping: dict[str, str] = {}
    for column in frame.columns:
        if column == ROW:
            continue
        name = _canonical(column)
        if name is None:
            new_columns.append(column)
        elif name in mapping.values():
            new_columns.append(column)  # a second column for the same field: kept aside, never merged silently
        else:
            mapping[column] = name
            if name != column:
                renamed[column] = name
    missing = [name for name in CONTRACT_COLUMNS if name not in mapping.values()]
    raw_columns = [c for c in frame.columns if c != ROW]
    if missing:
        rejected = frame.select(
            pl.col(ROW),
            pl.lit("missing_required_column").alias("category"),
            pl.lit(f"column(s) missing: {', '.join(missing)}").alias("reason"),
            *[pl.col(c) for c in raw_columns],
        )
        return ContractResult(_empty_valid(), rejected, new_columns, renamed, missing)

    source = {name: column for column, name in mapping.items()}
    typed = {RECORD_KEY: _text(source[RECORD_KEY]), EVENT_TIME: _timestamp(source[EVENT_TIME])}
    typed.update({f.name: _number(source[f.name]) for f in FEATURES})
    present = {name: _text(source[name]).is_not_null() for name in CONTRACT_COLUMNS}
    problems: list[pl.Expr] = []
    for name in CONTRACT_COLUMNS:
        problems.append(pl.when(~present[name]).then(pl.lit(f"missing_required:{name}")))
        problems.append(pl.when(present[name] & typed[name].is_null()).then(pl.lit(f"bad_type:{name}")))
    for feature in FEATURES:
        value = typed[feature.name]
        outside = (value < feature.minimum) | (value > feature.maximum) | value.is_infinite() | value.is_nan()
        problems.append(pl.when(outside).then(pl.lit(f"out_of_range:{feature.name}")))
    label = _text(source[LABEL]).str.to_lowercase() if LABEL in source else pl.lit(None, pl.String)
    if LABEL in source:
        problems.append(pl.when(label.is_not_null() & ~label.is_in(list(LABELS))).then(pl.lit(f"bad_type:{LABEL}")))
    checked = frame.select(
        pl.col(ROW),
        *[typed[name].alias(name) for name in CONTRACT_COLUMNS],
        label.alias(LABEL),
        pl.concat_list(problems).list.drop_nulls().alias("__problems"),
    )
    is_valid = pl.col("__problems").list.len() == 0
    valid = checked.filter(is_valid).drop("__problems")
    rejected = (
        checked.filter(~is_valid)
        .select(
            pl.col(ROW),
            pl.col("__problems").list.first().str.split(":").list.first().alias("category"),
            pl.col("__problems").list.join(", ").alias("reason"),
        )
        .join(frame.select(ROW, *raw_columns), on=ROW, how="left")
    )
    return ContractResult(valid, rejected, new_columns, renamed, [])


def _empty_valid() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {ROW: pl.Int64(), RECORD_KEY: pl.String(), EVENT_TIME: pl.Datetime("us", "UTC")}
    schema.update({f.name: pl.Float64() for f in FEATURES})
    schema[LABEL] = pl.String()
    return pl.DataFrame(schema=schema)
