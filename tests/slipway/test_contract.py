"""The data contract: canonical names and aliases, field-level problems, nothing guessed."""

from __future__ import annotations

import math

import pytest

from slipway.contract import FEATURE_NAMES, FEATURES, canonical_name, validate_record


def _valid() -> dict[str, float]:
    return {f.name: (f.minimum + f.maximum) / 4 for f in FEATURES}


def test_thirty_features_in_model_order_with_units_and_ranges() -> None:
    assert len(FEATURE_NAMES) == 30 == len(set(FEATURE_NAMES))
    assert FEATURE_NAMES[:2] == ("mean_radius", "mean_texture")
    assert FEATURE_NAMES[10] == "radius_se" and FEATURE_NAMES[20] == "worst_radius"
    assert all(f.unit and f.maximum > f.minimum for f in FEATURES)


def test_the_datasets_own_column_names_are_aliases() -> None:
    assert canonical_name("mean radius") == "mean_radius"
    assert canonical_name("radius error") == "radius_se"
    assert canonical_name("worst concave points") == "worst_concave_points"
    assert canonical_name("nonsense") is None


def test_a_valid_record_gives_values_in_model_order() -> None:
    values, problems = validate_record({**_valid(), "record_id": "r1", "event_time": "2026-01-01T00:00:00Z"})
    assert problems == [] and values is not None and len(values) == 30


@pytest.mark.parametrize(
    ("change", "field", "category"),
    [
        ({"mean_radius": "12.5"}, "mean_radius", "bad_type"),
        ({"mean_radius": True}, "mean_radius", "bad_type"),
        ({"mean_radius": None}, "mean_radius", "bad_type"),
        ({"mean_radius": -1.0}, "mean_radius", "out_of_range"),
        ({"mean_radius": math.inf}, "mean_radius", "out_of_range"),
        ({"mean_radius": 1e9}, "mean_radius", "out_of_range"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_field_problems_are_named(change: dict[str, object], field: str, category: str) -> None:
    values, problems = validate_record({**_valid(), **change})
    assert values is None
    assert [(p.field, p.category) for p in problems] == [(field, category)]


def test_missing_fields_are_each_reported() -> None:
    record = _valid()
    del record["mean_area"], record["worst_symmetry"]
    _, problems = validate_record(record)
    assert {(p.field, p.category) for p in problems} == {
        ("mean_area", "missing_required"),
        ("worst_symmetry", "missing_required"),
    }


def test_non_objects_and_duplicates_via_alias() -> None:
    assert validate_record([1, 2])[1][0].category == "bad_type"
    _, problems = validate_record({**_valid(), "mean radius": 3.0})
    assert problems[0].message == "duplicates mean_radius"
