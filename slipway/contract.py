"""The data contract: one YAML file per model family (``contracts/<name>.yaml``), loaded once and passed
down to the pipeline, the model server, drift, routing, training and review.

A contract names the record key, the event-time field, the label with its classes (and which are
high-stakes) and every feature: its type (``float``, ``int``, ``bool``, ``category`` with allowed
values, ``string`` for pass-through ids that are never model inputs), unit, range or values,
required or default, accepted aliases and description. Its JSON Schema is
``contracts/contract.schema.json`` (``python -m slipway.contract`` regenerates it).

Column names are matched after normalisation when ``normalise_names`` is true (the default): case
folded, surrounding space removed and every run of spaces, ``-`` and ``_`` made one ``_``, so
``Annual Income``, ``annual-income`` and ``annual_income`` are one column; the listed aliases are
normalised the same way.

Usage::

    contract = load_contract(None)                 # $SLIPWAY_CONTRACT, else the embedded default (wdbc)
    contract = load_contract("contracts/credit.yaml")
    contract.canonical_name("Annual-Income")       # "annual_income" (a feature, or an alias of one)
    values, problems = contract.validate_record({"annual_income": 52000.0, ...})
    contract.digest                                # sha256 of the contract's content, recorded in model cards
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from slipway.errors import UsageError
from slipway.yamlfiles import read_yaml

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
DEFAULT_CONTRACT = "wdbc"
SCHEMA_FILE = CONTRACTS / "contract.schema.json"
FeatureType = Literal["float", "int", "bool", "category", "string"]
Value = float | int | bool | str
NAME = r"^[a-z][a-z0-9_]{0,62}$"
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


def normalise(name: str) -> str:
    """The form column names are compared in: case folded, runs of space, '-' and '_' made one '_'."""
    return re.sub(r"[\s_-]+", "_", name.strip().casefold()).strip("_")


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of one record; ``category`` uses the pipeline's quarantine vocabulary."""

    field: str
    category: str  # missing_required | bad_type | out_of_range | unknown_field
    message: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Strict):
    """One model input (or, with type ``string``, a pass-through value such as an external id)."""

    name: str = Field(pattern=NAME, description="canonical column name (lowercase letters, digits, '_')")
    type: FeatureType = Field("float", description="float | int | bool | category | string")
    unit: str | None = Field(None, description="unit of measurement, shown to reviewers")
    range: tuple[float, float] | None = Field(None, description="float/int: inclusive [lowest, highest]")
    values: tuple[str, ...] | None = Field(None, description="category: the allowed values")
    required: bool = Field(True, description="a record without it is rejected (false: missing is allowed)")
    default: Value | None = Field(None, description="value used when missing (implies required: false)")
    aliases: tuple[str, ...] = Field((), description="other accepted column names")
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _default_means_optional(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("default") is not None:
            if data.get("required") is True:
                raise ValueError("a feature with a default cannot be required")
            data = {**data, "required": False}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Feature:
        if self.range is not None:
            if self.type not in ("float", "int"):
                raise ValueError(f"{self.name}: range applies to float and int features only")
            if not self.range[0] <= self.range[1]:
                raise ValueError(f"{self.name}: range must be [lowest, highest]")
        if self.type == "category":
            if not self.values:
                raise ValueError(f"{self.name}: a category feature lists its allowed values")
            folded = [v.casefold() for v in self.values]
            if len(set(folded)) != len(folded):
                raise ValueError(f"{self.name}: category values must differ (case-insensitively)")
        elif self.values is not None:
            raise ValueError(f"{self.name}: values apply to category features only")
        if self.default is not None:
            value, problem = self.coerce(self.default)
            if problem or value is None:
                raise ValueError(f"{self.name}: default {self.default!r} is not a valid value ({problem})")
        return self

    @property
    def is_input(self) -> bool:
        """Whether the model sees it (pass-through strings are carried, never predicted on)."""
        return self.type != "string"

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "int", "bool")

    def coerce(self, raw: Any) -> tuple[Value | None, str | None]:
        """A JSON value as this feature's value, or the reason it is not one (no lossy guessing)."""
        if self.type == "string":
            return (raw, None) if isinstance(raw, str) else (None, f"must be a string, got {_kind(raw)}")
        if self.type == "bool":
            return (raw, None) if isinstance(raw, bool) else (None, f"must be true or false, got {_kind(raw)}")
        if self.type == "category":
            if not isinstance(raw, str):
                return None, f"must be one of {list(self.values or ())}, got {_kind(raw)}"
            match = self.category_lookup.get(raw.strip().casefold())
            return (match, None) if match else (None, f"must be one of {list(self.values or ())}")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            unit = f" ({self.unit})" if self.unit else ""
            return None, f"must be a number{unit}, got {_kind(raw)}"
        if self.type == "int":
            if isinstance(raw, float) and not (math.isfinite(raw) and raw.is_integer()):
                return None, f"must be a whole number, got {raw!r}"
            value: float | int = int(raw)
        else:
            try:
                value = float(raw)
            except OverflowError:  # an integer of hundreds of digits
                return None, "out_of_range"
            if not math.isfinite(value):
                return None, "out_of_range"
        if self.range is not None and not self.range[0] <= value <= self.range[1]:
            return None, "out_of_range"
        return value, None

    @functools.cached_property
    def category_lookup(self) -> dict[str, str]:
        """Case-folded value → the contract's spelling."""
        return {v.casefold(): v for v in self.values or ()}


class FieldRef(_Strict):
    """A metadata column: its canonical name and the other spellings accepted."""

    field: str = Field(pattern=NAME)
    aliases: tuple[str, ...] = ()
    required: bool = Field(True, description="event_time only: false accepts records without one")


class LabelSpec(_Strict):
    field: str = Field(pattern=NAME, description="column holding the true class (training, review)")
    classes: tuple[str, ...] = Field(min_length=2, description="every class the model may predict")
    high_stakes: tuple[str, ...] = Field((), description="predicted classes a person always confirms")
    aliases: tuple[str, ...] = Field((), description="other accepted column names")
    values: dict[str, str] = Field(default_factory=dict, description="other spellings of a class, e.g. Y: approved")

    @model_validator(mode="after")
    def _known_classes(self) -> LabelSpec:
        if len({c.casefold() for c in self.classes}) != len(self.classes):
            raise ValueError("label classes must differ (case-insensitively)")
        unknown = [c for c in (*self.high_stakes, *self.values.values()) if c not in self.classes]
        if unknown:
            raise ValueError(f"label: {unknown} are not among the classes {list(self.classes)}")
        return self


def _field_ref(value: Any) -> Any:
    return {"field": value} if isinstance(value, str) else value


class Contract(_Strict):
    name: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    description: str = ""
    key: FieldRef = Field(description="the record key (deduplication); a name or {field, aliases}")
    event_time: FieldRef = Field(
        description="ISO 8601 instant or timestamp column; a name or {field, aliases, required}"
    )
    label: LabelSpec
    normalise_names: bool = Field(True, description="match column names case-, space-, '-' and '_'-insensitively")
    features: tuple[Feature, ...] = Field(min_length=1)
    default_data: str | None = Field(
        None, description="training data when none is given: a path relative to this file, or sklearn:<loader>"
    )
    min_accuracy: float = Field(0.9, gt=0, le=1, description="held-out accuracy a candidate must reach to be stored")
    confidence_threshold: float = Field(
        0.9, gt=0, lt=1, description="calibrated confidence below which a person decides"
    )
    _source: Path | None = PrivateAttr(None)

    @field_validator("key", "event_time", mode="before")
    @classmethod
    def _name_or_ref(cls, value: Any) -> Any:
        return _field_ref(value)

    @model_validator(mode="after")
    def _unique_names(self) -> Contract:
        owners: dict[str, str] = {}
        for canonical, spellings in self._spellings().items():
            for spelling in spellings:
                seen = owners.setdefault(self._fold(spelling), canonical)
                if seen != canonical:
                    raise ValueError(f"column name {spelling!r} would mean both {seen} and {canonical}")
        if not self.inputs:
            raise ValueError("at least one feature must be a model input (not type string)")
        return self

    def _spellings(self) -> dict[str, tuple[str, ...]]:
        spellings: dict[str, tuple[str, ...]] = {}
        for canonical, aliases in (
            (self.key.field, self.key.aliases),
            (self.event_time.field, self.event_time.aliases),
            (self.label.field, self.label.aliases),
            *((f.name, f.aliases) for f in self.features),
        ):
            if canonical in spellings:
                raise ValueError(f"field {canonical!r} is declared twice")
            spellings[canonical] = (canonical, *aliases)
        return spellings

    def _fold(self, column: str) -> str:
        return normalise(column) if self.normalise_names else column.strip()

    # -- derived views ---------------------------------------------------------------------------------
    @functools.cached_property
    def _lookup(self) -> dict[str, str]:
        return {self._fold(s): canonical for canonical, spellings in self._spellings().items() for s in spellings}

    @functools.cached_property
    def digest(self) -> str:
        """sha256 of the contract's content (not its comments or layout): what a model card records."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    @functools.cached_property
    def inputs(self) -> tuple[Feature, ...]:
        """The model's inputs, in contract order (the column order of every model frame)."""
        return tuple(f for f in self.features if f.is_input)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.inputs)

    @functools.cached_property
    def by_name(self) -> dict[str, Feature]:
        return {f.name: f for f in self.features}

    @property
    def classes(self) -> tuple[str, ...]:
        return self.label.classes

    @property
    def metadata_fields(self) -> tuple[str, str, str]:
        return (self.key.field, self.event_time.field, self.label.field)

    @property
    def source(self) -> Path | None:
        """The file it was loaded from (None when built in code)."""
        return self._source

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "digest": self.digest}

    def describe(self) -> str:
        return f"{self.name} v{self.version} ({self.digest[:19]}…)"

    # -- names and values ------------------------------------------------------------------------------
    @functools.cached_property
    def _exact(self) -> dict[str, str]:
        return {s: canonical for canonical, spellings in self._spellings().items() for s in spellings}

    def canonical_name(self, column: str) -> str | None:
        """The canonical field (feature, key, event time or label) a column means, else None."""
        exact = self._exact.get(column)  # most requests spell every name as the contract does
        return exact if exact is not None else self._lookup.get(self._fold(column))

    def class_of(self, raw: str) -> str | None:
        """A label spelling as one of the classes (case-insensitive; the contract's value aliases)."""
        text = raw.strip()
        for spelling, cls in self.label.values.items():
            if spelling.casefold() == text.casefold():
                return cls
        return next((c for c in self.label.classes if c.casefold() == text.casefold()), None)

    @functools.cached_property
    def _plain_checks(self) -> tuple[tuple[str, str, float, float, frozenset[str]], ...]:
        """Per feature: its name, type, finite inclusive bounds and category values (``_plain_values``)."""
        checks = []
        for f in self.features:
            low, high = f.range or (-_LARGEST, _LARGEST)
            checks.append((f.name, f.type, max(low, -_LARGEST), min(high, _LARGEST), frozenset(f.values or ())))
        return tuple(checks)

    def _plain_values(self, record: dict[Any, Any]) -> dict[str, Value | None] | None:
        """The values of a record that names every feature as the contract spells it, holds nothing
        else, and whose every value is already right — what nearly every request sends — in one
        pass; None sends the record through the full checks (which say what is wrong)."""
        if len(record) != len(self._plain_checks):
            return None
        values: dict[str, Value | None] = {}
        for name, kind, low, high, allowed in self._plain_checks:
            raw: Any = record.get(name)
            given = type(raw)
            if kind == "float" and (given is float or (given is int and -_LARGEST <= raw <= _LARGEST)):
                number = float(raw)
                if not low <= number <= high:  # also refuses NaN and infinities: the full checks word why
                    return None
                value: Value = number
            elif kind == "int" and (given is int or (given is float and raw.is_integer())):
                whole = int(raw)
                if not low <= whole <= high:
                    return None
                value = whole
            elif (kind == "bool" and given is bool) or (given is str and (kind == "string" or raw in allowed)):
                value = raw  # a category value exactly as the contract spells it
            else:
                return None
            values[name] = value
        return values

    def validate_record(self, record: Any) -> tuple[dict[str, Value | None] | None, list[FieldProblem]]:
        """Every feature's value (None = missing and allowed; defaults applied), or None with every
        problem found. Nothing is guessed: ``"12.5"`` is not a number here (the pipeline coerces text)."""
        if type(record) is dict:
            plain = self._plain_values(record)
            if plain is not None:
                return plain, []
        return self._checked_values(record)

    def _checked_values(self, record: Any) -> tuple[dict[str, Value | None] | None, list[FieldProblem]]:
        """``validate_record`` field by field: every name's spelling, every value's type and range."""
        if not isinstance(record, dict):
            return None, [FieldProblem("<record>", "bad_type", "a record must be a JSON object of feature values")]
        problems: list[FieldProblem] = []
        values: dict[str, Value | None] = {}
        seen: set[str] = set()
        for key, raw in record.items():
            if not isinstance(key, str):
                problems.append(FieldProblem(str(key), "unknown_field", "field names must be strings"))
                continue
            name = self.canonical_name(key)
            if name is None:
                problems.append(FieldProblem(key, "unknown_field", "not a field of the data contract"))
                continue
            if name in seen:
                problems.append(FieldProblem(key, "bad_type", f"duplicates {name}"))
                continue
            seen.add(name)
            feature = self.by_name.get(name)
            if feature is None or raw is None:
                continue  # metadata (key, event time, label) is not a model input; null is missing
            value, problem = feature.coerce(raw)
            if problem == "out_of_range":
                low, high = feature.range or (math.nan, math.nan)
                problems.append(FieldProblem(name, "out_of_range", f"must be within [{low:g}, {high:g}]"))
            elif problem is not None:
                category = "out_of_range" if feature.type == "category" and isinstance(raw, str) else "bad_type"
                problems.append(FieldProblem(name, category, problem))
            else:
                values[name] = value
        for feature in self.features:
            if feature.name in values or any(p.field == feature.name for p in problems):
                continue
            if feature.required:
                problems.append(FieldProblem(feature.name, "missing_required", "required feature is missing"))
            else:
                values[feature.name] = feature.default
        if problems:
            return None, problems
        return {f.name: values[f.name] for f in self.features}, []


_LARGEST = sys.float_info.max  # a finite bound: the checks above refuse infinities as the full ones do


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        key = ".".join(str(p) for p in error["loc"]) or "<contract>"
        parts.append(f"{key}: {re.sub(r'^Value error, ', '', str(error['msg']))}")
    return "; ".join(parts)


def parse_contract(data: Any, source: Path | None = None) -> Contract:
    """A contract from already-read data; UsageError naming each problem's key."""
    where = f"data contract {source}" if source else "data contract"
    try:
        contract = Contract.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{where}: {_problems(exc)}") from None
    contract._source = source
    return contract


@functools.lru_cache(maxsize=16)
def _load_file(path: Path, mtime_ns: int) -> Contract:
    return parse_contract(read_yaml(path, "data contract"), path)


def contract_path(reference: str | Path | None) -> Path:
    """A file path, or the name of an embedded contract (``wdbc``); None: $SLIPWAY_CONTRACT or the default."""
    text = str(reference) if reference is not None else os.environ.get("SLIPWAY_CONTRACT") or DEFAULT_CONTRACT
    if re.fullmatch(NAME, text) and not Path(text).exists():
        return CONTRACTS / f"{text}.yaml"
    return Path(text)


def load_contract(reference: str | Path | None = None) -> Contract:
    """Load (once per file version) and validate a contract; UsageError when unusable."""
    path = contract_path(reference).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        embedded = sorted(p.stem for p in CONTRACTS.glob("*.yaml"))
        raise UsageError(f"no data contract {path} (embedded contracts: {', '.join(embedded)})") from None
    return _load_file(path, mtime)


def json_schema() -> str:
    schema = Contract.model_json_schema()
    for name in ("key", "event_time"):  # a plain name is accepted too (the model's before-validator)
        field = schema["properties"][name]
        reference = {k: field.pop(k) for k in ("$ref",) if k in field}
        field["anyOf"] = [{"type": "string", "pattern": NAME}, reference]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://slipway.dev/schemas/contract.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str]) -> int:
    from slipway.generated import write_or_check

    return write_or_check(SCHEMA_FILE, json_schema(), "python -m slipway.contract", argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
