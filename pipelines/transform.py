"""Apply a data contract to one batch: rename, coerce losslessly, validate, split good from bad.

Vectorised with polars (no Python loop per row). Columns are matched to the contract's fields by
name after its normalisation and through its aliases; unknown columns are kept aside and reported;
a missing column that the contract requires quarantines the whole batch (an optional one is filled
with its default, else left empty). Values are coerced only when nothing is lost (``"12.5"``,
``"1,234.5"``, ``"3.0"`` for an int, ``yes``/``no`` for a bool, a category in any letter case;
``"N/A"``/empty → missing); anything else is ``bad_type``, a number outside the range or a category
outside the allowed values ``out_of_range``. Event times with offsets are normalised to UTC; times
without an offset are taken as UTC.

Usage::

    result = apply_contract(batch.frame, contract)
    result.valid       # canonical columns, typed, + __row (rows that needed coercion come last)
    result.rejected    # __row, category, reason (+ the raw values of the row)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.reader import ROW
from slipway.columns import POLARS_TYPES
from slipway.contract import FALSE_WORDS, TRUE_WORDS, Contract, Feature

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
MISSING, BAD_TYPE, OUT_OF_RANGE = 1, 2, 3


@dataclass
class ContractResult:
    valid: pl.DataFrame
    rejected: pl.DataFrame
    new_columns: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    missing_columns: list[str] = field(default_factory=list)


def checked_columns(contract: Contract) -> tuple[str, ...]:
    """Key, event time and every feature: the columns validated on each row (the label is optional)."""
    return (contract.key.field, contract.event_time.field, *(f.name for f in contract.features))


def output_columns(contract: Contract) -> tuple[str, ...]:
    return (*checked_columns(contract), contract.label.field)


def column_types(contract: Contract) -> dict[str, pl.DataType]:
    """The canonical column types of contract-clean data (what data/ holds and training reads)."""
    types: dict[str, pl.DataType] = {
        contract.key.field: pl.String(),
        contract.event_time.field: pl.Datetime("us", "UTC"),
    }
    types.update({f.name: POLARS_TYPES[f.type] for f in contract.features})
    types[contract.label.field] = pl.String()
    return types


def _text(name: str) -> pl.Expr:
    value = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(value.str.to_lowercase().is_in(NULL_LIKE)).then(None).otherwise(value)


def _number(name: str) -> pl.Expr:
    text = _text(name)
    cleaned = pl.when(text.str.contains(THOUSANDS)).then(text.str.replace_all(",", "")).otherwise(text)
    return cleaned.cast(pl.Float64, strict=False)


def _whole(name: str) -> pl.Expr:
    """An int only when the number is whole and finite (``"3.0"`` yes, ``"3.5"`` no)."""
    number = _number(name)
    return pl.when(number.is_finite() & (number == number.round(0))).then(number).otherwise(None).cast(pl.Int64)


def _boolean(name: str) -> pl.Expr:
    word = _text(name).str.to_lowercase()
    return pl.when(word.is_in(list(TRUE_WORDS))).then(True).when(word.is_in(list(FALSE_WORDS))).then(False)


def _category(name: str, feature: Feature) -> pl.Expr:
    """The contract's spelling of the value (any letter case), null when it is not an allowed value."""
    lookup = feature.category_lookup
    return _text(name).str.to_lowercase().replace_strict(list(lookup), list(lookup.values()), default=None)


def _parse_time(text: pl.Expr, fmt: str) -> pl.Expr:
    if "%:z" in fmt:
        return text.str.to_datetime(fmt, strict=False, time_unit="us").dt.convert_time_zone("UTC")
    return text.str.to_datetime(fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC")


def _timestamp(name: str) -> pl.Expr:
    text = _text(name)
    return pl.coalesce([_parse_time(text, fmt) for fmt in TIME_FORMATS])


def _careful(feature: Feature, column: str) -> pl.Expr:
    """The lossless coercion of one feature column (null: missing or not coercible)."""
    if feature.type == "float":
        return _number(column)
    if feature.type == "int":
        return _whole(column)
    if feature.type == "bool":
        return _boolean(column)
    if feature.type == "category":
        return _category(column, feature)
    return _text(column)


def _plain(feature: Feature, column: str) -> pl.Expr | None:
    """A cheap cast that, where it succeeds, gives what the careful coercion gives (numbers only)."""
    if feature.type == "float":
        return pl.col(column).cast(pl.Float64, strict=False)
    if feature.type == "int":
        return pl.col(column).cast(pl.Int64, strict=False)
    return None


def _match_columns(frame: pl.DataFrame, contract: Contract) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """canonical field → source column; renamed source → canonical; columns the contract does not know."""
    source: dict[str, str] = {}
    renamed: dict[str, str] = {}
    new_columns: list[str] = []
    for column in frame.columns:
        if column == ROW:
            continue
        name = contract.canonical_name(column)
        if name is None or name in source:
            new_columns.append(column)  # unknown, or a second column for a field: kept aside, never merged
            continue
        source[name] = column
        if name != column:
            renamed[column] = name
    return source, renamed, new_columns


def _required_columns(contract: Contract, metadata: bool) -> list[str]:
    required = [f.name for f in contract.features if f.required]
    if metadata:
        required[:0] = [contract.key.field] + ([contract.event_time.field] if contract.event_time.required else [])
    return required


def apply_contract(frame: pl.DataFrame, contract: Contract, *, metadata: bool = True) -> ContractResult:
    """``metadata=False`` (training data) checks features and label only: no key or event time needed."""
    source, renamed, new_columns = _match_columns(frame, contract)
    raw_columns = [c for c in frame.columns if c != ROW]
    missing = [name for name in _required_columns(contract, metadata) if name not in source]
    if missing:
        rejected = frame.select(
            pl.col(ROW),
            pl.lit("missing_required_column").alias("category"),
            pl.lit(f"column(s) missing: {', '.join(missing)}").alias("reason"),
            *[pl.col(c) for c in raw_columns],
        )
        return ContractResult(empty_valid(contract), rejected, new_columns, renamed, missing)
    absent = [name for name in output_columns(contract) if name not in source]
    padded = frame.with_columns(pl.lit(None, pl.String).alias(f"__absent_{name}") for name in absent)
    source.update({name: f"__absent_{name}" for name in absent})
    checked = _with_codes(_typed(padded, source, contract), contract, metadata)
    code_columns = [c for c in checked.columns if c.startswith("__code_")]
    is_valid = pl.all_horizontal([pl.col(c) == 0 for c in code_columns])
    defaults = [
        pl.col(f.name).fill_null(pl.lit(f.default, POLARS_TYPES[f.type]))
        for f in contract.features
        if f.default is not None
    ]
    valid = checked.filter(is_valid).with_columns(defaults).select(ROW, *output_columns(contract))
    return ContractResult(valid, _rejected(frame, checked.filter(~is_valid), code_columns, raw_columns),
                          new_columns, renamed, [])  # fmt: skip


def _with_codes(typed: pl.DataFrame, contract: Contract, metadata: bool) -> pl.DataFrame:
    """One small integer per field: 0 ok, 1 missing (and required), 2 bad type, 3 out of range."""
    required = set(_required_columns(contract, metadata))
    checked = checked_columns(contract) if metadata else tuple(f.name for f in contract.features)
    codes = []
    for name in checked:
        value, present = pl.col(name), pl.col(f"__present_{name}")
        feature = contract.by_name.get(name)
        code = pl.when(~present & pl.lit(name in required)).then(MISSING).when(~present).then(0)
        if feature is not None and feature.type == "category":
            code = code.when(value.is_null()).then(OUT_OF_RANGE)
        code = code.when(value.is_null()).then(BAD_TYPE)
        if feature is not None and feature.type in ("float", "int") and feature.range is not None:
            low, high = feature.range
            outside = (value < low) | (value > high)
            if feature.type == "float":
                outside = outside | value.is_infinite() | value.is_nan()
            code = code.when(outside).then(OUT_OF_RANGE)
        elif feature is not None and feature.type == "float":
            code = code.when(value.is_infinite() | value.is_nan()).then(OUT_OF_RANGE)
        codes.append(code.otherwise(0).cast(pl.Int8).alias(f"__code_{name}"))
    label = pl.col(contract.label.field)
    bad_label = pl.col(f"__present_{contract.label.field}") & label.is_null()
    codes.append(pl.when(bad_label).then(BAD_TYPE).otherwise(0).cast(pl.Int8).alias(f"__code_{contract.label.field}"))
    return typed.with_columns(codes)


def _rejected(frame: pl.DataFrame, bad: pl.DataFrame, code_columns: list[str], raw_columns: list[str]) -> pl.DataFrame:
    """Reasons only for the (few) rejected rows, with the row's raw values."""
    categories = {MISSING: "missing_required", BAD_TYPE: "bad_type", OUT_OF_RANGE: "out_of_range"}
    problems = [
        pl.when(pl.col(c) == code).then(pl.lit(f"{category}:{c.removeprefix('__code_')}"))
        for code, category in categories.items()
        for c in code_columns
    ]
    reasons = bad.select(pl.col(ROW), pl.concat_list(problems).list.drop_nulls().alias("__problems"))
    return (
        reasons.select(
            pl.col(ROW),
            pl.col("__problems").list.first().str.split(":").list.first().alias("category"),
            pl.col("__problems").list.join(", ").alias("reason"),
        )
        .join(frame.filter(pl.col(ROW).is_in(reasons[ROW].implode())).select(ROW, *raw_columns), on=ROW, how="left")
        .sort(ROW)
    )


def _label(contract: Contract, column: str) -> pl.Expr:
    """The class a label value names (the contract's spelling), null when it names none."""
    spellings = {c.casefold(): c for c in contract.classes}
    spellings.update({k.casefold(): v for k, v in contract.label.values.items()})
    return _text(column).str.to_lowercase().replace_strict(list(spellings), list(spellings.values()), default=None)


def _typed(frame: pl.DataFrame, source: dict[str, str], contract: Contract) -> pl.DataFrame:
    """Typed values and presence flags. Most rows are clean, so the careful (and costly) coercion
    runs only on rows that a plain cast cannot type; a plain cast that succeeds with a finite value
    gives exactly what the careful path would.
    """
    key, when = contract.key.field, contract.event_time.field
    label = contract.label.field
    time_format = _likely_time_format(frame[source[when]])
    plain_time = (
        _parse_time(pl.col(source[when]), time_format) if time_format else pl.lit(None, pl.Datetime("us", "UTC"))
    )
    careful_values = {f.name: _careful(f, source[f.name]) for f in contract.features}
    plain_values = {f.name: _plain(f, source[f.name]) for f in contract.features}
    fast_columns = [name for name, expression in plain_values.items() if expression is not None]
    other = [f.name for f in contract.features if f.name not in fast_columns]
    plain = frame.select(
        pl.col(ROW),
        _text(source[key]).alias(key),
        plain_time.alias(when),
        *[expression.alias(name) for name, expression in plain_values.items() if expression is not None],
    )
    # an absent optional column is the same on every row: it sends no row down the careful path
    given = [name for name in (key, when) if not source[name].startswith("__absent_")]
    clean = plain.select(
        pl.all_horizontal(
            pl.lit(True),
            *[pl.col(name).is_not_null() for name in given],
            *[pl.col(name).cast(pl.Float64).is_finite().fill_null(False) for name in fast_columns],
        )
    ).to_series()
    shared = [  # computed the same way on both paths
        *[careful_values[name].alias(name) for name in other],
        _label(contract, source[label]).alias(label),
        *[_text(source[name]).is_not_null().alias(f"__present_{name}") for name in (*other, label)],
    ]
    fast = pl.concat([plain.filter(clean), frame.select(shared).filter(clean)], how="horizontal").with_columns(
        pl.lit(name in given or name in fast_columns).alias(f"__present_{name}") for name in (key, when, *fast_columns)
    )
    careful = frame.filter(~clean).select(
        pl.col(ROW),
        _text(source[key]).alias(key),
        _timestamp(source[when]).alias(when),
        *[careful_values[name].alias(name) for name in fast_columns],
        *shared,
        *[_text(source[name]).is_not_null().alias(f"__present_{name}") for name in (key, when, *fast_columns)],
    )
    return pl.concat([fast, careful.select(fast.columns)])  # not re-sorted: deduplication orders rows by position


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


def empty_valid(contract: Contract) -> pl.DataFrame:
    return pl.DataFrame(schema={ROW: pl.Int64(), **column_types(contract)})
