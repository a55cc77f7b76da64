"""The data contract, defined once: imported by the pipeline, the model server and the drift monitor.

The reference model classifies breast-mass cell nuclei (the Wisconsin Diagnostic Breast Cancer data
that ships with scikit-learn) as malignant or benign. Each record carries 30 measurements (ten nucleus
properties, each as mean, standard error and worst value), a record key and an event time.

Usage::

    values, problems = validate_record({"mean_radius": 14.2, ...})
    FEATURE_NAMES                 # canonical names, in model input order
    canonical_name("mean radius") # "mean_radius" (aliases: the dataset's own column names)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RECORD_KEY = "record_id"
EVENT_TIME = "event_time"
LABEL = "diagnosis"
LABELS = ("malignant", "benign")  # scikit-learn's target 0 and 1


@dataclass(frozen=True)
class Feature:
    name: str
    unit: str
    minimum: float
    maximum: float
    description: str
    aliases: tuple[str, ...] = ()
    required: bool = True
    dtype: str = "float64"


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of one record; ``category`` uses the pipeline's quarantine vocabulary."""

    field: str
    category: str  # missing_required | bad_type | out_of_range | unknown_field
    message: str


# (property, unit, upper bound of the mean, of the standard error, of the worst value, description)
_PROPERTIES = (
    ("radius", "px", 60.0, 10.0, 80.0, "mean distance from the centre to points on the perimeter"),
    ("texture", "grey level", 100.0, 20.0, 100.0, "standard deviation of grey-scale values"),
    ("perimeter", "px", 400.0, 50.0, 500.0, "nucleus perimeter"),
    ("area", "px²", 10000.0, 2000.0, 12000.0, "nucleus area"),
    ("smoothness", "1", 1.0, 1.0, 1.0, "local variation in radius lengths"),
    ("compactness", "1", 2.0, 1.0, 3.0, "perimeter² / area - 1"),
    ("concavity", "1", 2.0, 1.0, 3.0, "severity of concave portions of the contour"),
    ("concave points", "1", 1.0, 1.0, 1.0, "number of concave portions of the contour"),
    ("symmetry", "1", 1.0, 1.0, 1.5, "symmetry of the nucleus"),
    ("fractal dimension", "1", 1.0, 1.0, 1.0, "coastline approximation - 1"),
)


def _features() -> tuple[Feature, ...]:
    features = []
    for statistic, index in (("mean", 2), ("error", 3), ("worst", 4)):
        for entry in _PROPERTIES:
            prop, unit, description = entry[0], entry[1], entry[5]
            upper = float(entry[index])
            dataset_name = f"{statistic} {prop}" if statistic != "error" else f"{prop} error"
            canonical = (f"{prop}_se" if statistic == "error" else f"{statistic}_{prop}").replace(" ", "_")
            features.append(
                Feature(
                    name=canonical,
                    unit=unit,
                    minimum=0.0,
                    maximum=upper,
                    description=f"{statistic} of: {description}",
                    aliases=(dataset_name, dataset_name.replace(" ", "_")),
                )
            )
    return tuple(features)


FEATURES: tuple[Feature, ...] = _features()
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
_BY_NAME = {f.name: f for f in FEATURES}
_ALIASES = {alias: f.name for f in FEATURES for alias in (f.name, *f.aliases)}
METADATA_FIELDS = (RECORD_KEY, EVENT_TIME, LABEL)


def canonical_name(column: str) -> str | None:
    """The canonical feature name of a column (its name or an accepted alias), else None."""
    return _ALIASES.get(column.strip())


def validate_record(record: Any) -> tuple[list[float] | None, list[FieldProblem]]:
    """Feature values in model order, or None with every problem found (nothing is guessed)."""
    if not isinstance(record, dict):
        return None, [FieldProblem("<record>", "bad_type", "a record must be a JSON object of feature values")]
    problems: list[FieldProblem] = []
    values: dict[str, float] = {}
    for key, raw in record.items():
        if not isinstance(key, str):
            problems.append(FieldProblem(str(key), "unknown_field", "field names must be strings"))
            continue
        name = canonical_name(key)
        if name is None:
            if key not in METADATA_FIELDS:
                problems.append(FieldProblem(key, "unknown_field", "not a feature of the data contract"))
            continue
        if name in values:
            problems.append(FieldProblem(key, "bad_type", f"duplicates {name}"))
            continue
        feature = _BY_NAME[name]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            problems.append(FieldProblem(name, "bad_type", f"must be a number ({feature.unit}), got {_kind(raw)}"))
            continue
        value = float(raw)
        if not math.isfinite(value) or not feature.minimum <= value <= feature.maximum:
            problems.append(
                FieldProblem(name, "out_of_range", f"must be within [{feature.minimum:g}, {feature.maximum:g}]")
            )
            continue
        values[name] = value
    for feature in FEATURES:
        if feature.required and feature.name not in values and not any(p.field == feature.name for p in problems):
            problems.append(FieldProblem(feature.name, "missing_required", "required feature is missing"))
    if problems:
        return None, problems
    return [values[name] for name in FEATURE_NAMES], []


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
