"""Apply the data contract to one batch: rename, coerce losslessly, validate, split good from bad.

Vectorised with polars (no Python loop per row). Renamed columns are resolved through the
contract's aliases; unknown columns are kept aside and reported; a missing required column
quarantines the whole batch. Values are coerced only when nothing is lost (``"12.5"``,
``"1,234.5"``; ``"N/A"``/empty → missing); anything else is ``bad_type``. Event times with offsets
are normalised to UTC; times without an offset are taken as UTC.

Usage::

    result = apply_contract(batch.frame)
    result.valid       # canonical columns, typed, + __row (rows that needed coercion come last)
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


def _parse_time(text: pl.Expr, fmt: str) -> pl.Expr:
    if "%:z" in fmt:
        return text.str.to_datetime(fmt, strict=False, time_unit="us").dt.convert_time_zone("UTC")
    return text.str.to_datetime(fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC")


def _timestamp(name: str) -> pl.Expr:
    text = _text(name)
    return pl.coalesce([_parse_time(text, fmt) for fmt in TIME_FORMATS])


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
        return ContractResult(empty_valid(), rejected, new_columns, renamed, missing)

    source = {name: column for column, name in mapping.items()}
    label = _text(source[LABEL]).str.to_lowercase() if LABEL in source else pl.lit(None, pl.String)
    # 1. every typed value and "was something there" flag, computed once
    materialised = _typed(frame, source, label)
    # 2. one small integer code per field: 0 ok, 1 missing, 2 bad type, 3 out of range
    by_name = {f.name: f for f in FEATURES}
    codes = []
    for name in CONTRACT_COLUMNS:
        value, present = pl.col(name), pl.col(f"__present_{name}")
        code = pl.when(~present).then(1).when(value.is_null()).then(2)
        feature = by_name.get(name)
        if feature is not None:
            outside = (value < feature.minimum) | (value > feature.maximum) | value.is_infinite() | value.is_nan()
            code = code.when(outside).then(3)
        codes.append(code.otherwise(0).cast(pl.Int8).alias(f"__code_{name}"))
    if LABEL in source:
        bad_label = pl.col(LABEL).is_not_null() & ~pl.col(LABEL).is_in(list(LABELS))
        codes.append(pl.when(bad_label).then(2).otherwise(0).cast(pl.Int8).alias(f"__code_{LABEL}"))
    checked = materialised.with_columns(codes)
    code_columns = [c for c in checked.columns if c.startswith("__code_")]
    is_valid = pl.all_horizontal([pl.col(c) == 0 for c in code_columns])
    valid = checked.filter(is_valid).select(ROW, *CONTRACT_COLUMNS, LABEL)
    # 3. reasons only for the (few) rejected rows
    bad = checked.filter(~is_valid)
    categories = {1: "missing_required", 2: "bad_type", 3: "out_of_range"}
    problems = [
        pl.when(pl.col(c) == code).then(pl.lit(f"{category}:{c.removeprefix('__code_')}"))
        for code, category in categories.items()
        for c in code_columns
    ]
    reasons = bad.select(pl.col(ROW), pl.concat_list(problems).list.drop_nulls().alias("__problems"))
    rejected = (
        reasons.select(
            pl.col(ROW),
            pl.col("__problems").list.first().str.split(":").list.first().alias("category"),
            pl.col("__problems").list.join(", ").alias("reason"),
        )
        .join(frame.filter(pl.col(ROW).is_in(reasons[ROW].implode())).select(ROW, *raw_columns), on=ROW, how="left")
        .sort(ROW)
    )
    return ContractResult(valid, rejected, new_columns, renamed, [])


def _typed(frame: pl.DataFrame, source: dict[str, str], label: pl.Expr) -> pl.DataFrame:
    """Typed values and presence flags. Most rows are clean, so the careful (and costly) coercion
    runs only on rows that a plain cast cannot type; a plain cast that succeeds with a finite value
    gives exactly what the careful path would.
    """
    time_format = _likely_time_format(frame[source[EVENT_TIME]])
    plain_time = (
        _parse_time(pl.col(source[EVENT_TIME]), time_format) if time_format else pl.lit(None, pl.Datetime("us", "UTC"))
    )
    plain = frame.select(
        pl.col(ROW),
        _text(source[RECORD_KEY]).alias(RECORD_KEY),
        plain_time.alias(EVENT_TIME),
        *[pl.col(source[f.name]).cast(pl.Float64, strict=False).alias(f.name) for f in FEATURES],
        label.alias(LABEL),
    )
    clean = plain.select(
        pl.all_horizontal(
            pl.col(EVENT_TIME).is_not_null(),
            pl.col(RECORD_KEY).is_not_null(),
            *[pl.col(f.name).is_finite().fill_null(False) for f in FEATURES],
        )
    ).to_series()
    fast = plain.filter(clean).with_columns(pl.lit(True).alias(f"__present_{name}") for name in CONTRACT_COLUMNS)
    typed = {RECORD_KEY: _text(source[RECORD_KEY]), EVENT_TIME: _timestamp(source[EVENT_TIME])}
    typed.update({f.name: _number(source[f.name]) for f in FEATURES})
    careful = frame.filter(~clean).select(
        pl.col(ROW),
        *[typed[name].alias(name) for name in CONTRACT_COLUMNS],
        label.alias(LABEL),
        *[_text(source[name]).is_not_null().alias(f"__present_{name}") for name in CONTRACT_COLUMNS],
    )
    return pl.concat([fast, careful])  # not re-sorted: deduplication orders rows by their position anyway


def _likely_time_format(values: pl.Series) -> str | None:
    """The time format most of the first values use (None when no format fits any of them)."""
    sample = values.drop_nulls().head(1000).cast(pl.String)
    if sample.is_empty():
        return None
    hits = {
        fmt: sample.to_frame().select(_parse_time(pl.first(), fmt).is_not_null().sum()).item() for fmt in TIME_FORMATS
    }
    best = max(hits, key=lambda fmt: hits[fmt])
    return best if hits[best] else None


def empty_valid() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {ROW: pl.Int64(), RECORD_KEY: pl.String(), EVENT_TIME: pl.Datetime("us", "UTC")}
    schema.update({f.name: pl.Float64() for f in FEATURES})
    schema[LABEL] = pl.String()
    return pl.DataFrame(schema=schema)
