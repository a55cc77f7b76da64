"""The data contract file: a typed model, normalised names and aliases, field-level problems, nothing guessed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slipway.contract import CONTRACTS, SCHEMA_FILE, json_schema, load_contract, normalise, parse_contract
from slipway.errors import UsageError
from tests.wdbc import FEATURE_NAMES, FEATURES, WDBC


def _valid() -> dict[str, Any]:
    return {f.name: (f.range[0] + f.range[1]) / 4 for f in FEATURES if f.range}


def _minimal(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": "t",
        "version": 1,
        "key": "id",
        "event_time": "at",
        "label": {"field": "outcome", "classes": ["yes", "no"], "high_stakes": ["yes"]},
        "features": [{"name": "size", "type": "float", "range": [0, 10]}],
    }
    document.update(changes)
    return document


def test_the_embedded_default_has_thirty_features_in_model_order_with_units_and_ranges() -> None:
    assert load_contract(None).digest == WDBC.digest  # $SLIPWAY_CONTRACT unset: the embedded default
    assert len(FEATURE_NAMES) == 30 == len(set(FEATURE_NAMES))
    assert FEATURE_NAMES[:2] == ("mean_radius", "mean_texture")
    assert FEATURE_NAMES[10] == "radius_se" and FEATURE_NAMES[20] == "worst_radius"
    assert all(f.unit and f.range and f.range[1] > f.range[0] for f in FEATURES)
    assert WDBC.classes == ("malignant", "benign") and WDBC.label.high_stakes == ("malignant",)


def test_scikit_learn_and_uci_kaggle_spellings_are_aliases() -> None:
    assert WDBC.canonical_name("mean radius") == "mean_radius"
    assert WDBC.canonical_name("radius error") == "radius_se"
    assert WDBC.canonical_name("worst concave points") == "worst_concave_points"
    assert WDBC.canonical_name("radius_mean") == "mean_radius"  # UCI/Kaggle
    assert WDBC.canonical_name("concave points_worst") == "worst_concave_points"
    assert WDBC.canonical_name("fractal_dimension_se") == "fractal_dimension_se"
    assert WDBC.canonical_name("id") == "record_id"
    assert WDBC.class_of("M") == "malignant" and WDBC.class_of("Benign") == "benign" and WDBC.class_of("x") is None
    assert WDBC.canonical_name("nonsense") is None


def test_names_are_normalised_case_space_dash_and_underscore_insensitively() -> None:
    assert normalise("  Mean -_ Radius ") == "mean_radius"
    for spelling in ("Mean Radius", "MEAN-RADIUS", "mean__radius", " Radius_Mean"):
        assert WDBC.canonical_name(spelling) == "mean_radius"
    strict = parse_contract(_minimal(normalise_names=False))
    assert strict.canonical_name("size") == "size" and strict.canonical_name("Size") is None


def test_a_valid_record_gives_every_value_in_contract_order() -> None:
    values, problems = WDBC.validate_record({**_valid(), "record_id": "r1", "event_time": "2026-01-01T00:00:00Z"})
    assert problems == [] and values is not None and list(values) == list(FEATURE_NAMES)


@pytest.mark.parametrize(
    ("change", "field", "category"),
    [
        ({"mean_radius": "12.5"}, "mean_radius", "bad_type"),
        ({"mean_radius": True}, "mean_radius", "bad_type"),
        ({"mean_radius": None}, "mean_radius", "missing_required"),
        ({"mean_radius": -1.0}, "mean_radius", "out_of_range"),
        ({"mean_radius": math.inf}, "mean_radius", "out_of_range"),
        ({"mean_radius": 1e9}, "mean_radius", "out_of_range"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_field_problems_are_named(change: dict[str, object], field: str, category: str) -> None:
    values, problems = WDBC.validate_record({**_valid(), **change})
    assert values is None
    assert [(p.field, p.category) for p in problems] == [(field, category)]


def test_missing_fields_are_each_reported() -> None:
    record = _valid()
    del record["mean_area"], record["worst_symmetry"]
    _, problems = WDBC.validate_record(record)
    assert {(p.field, p.category) for p in problems} == {
        ("mean_area", "missing_required"),
        ("worst_symmetry", "missing_required"),
    }


def test_every_type_is_checked_without_guessing() -> None:
    contract = parse_contract(
        _minimal(
            features=[
                {"name": "age", "type": "int", "range": [18, 120]},
                {"name": "member", "type": "bool"},
                {"name": "plan", "type": "category", "values": ["Basic", "Plus"]},
                {"name": "ref", "type": "string", "required": False},
                {"name": "score", "type": "float", "default": 0.5},
            ]
        )
    )
    values, problems = contract.validate_record({"age": 40.0, "member": True, "plan": "plus"})
    assert problems == [] and values == {"age": 40, "member": True, "plan": "Plus", "ref": None, "score": 0.5}
    assert [i.name for i in contract.inputs] == ["age", "member", "plan", "score"]  # a string is passed through
    _, problems = contract.validate_record({"age": 40.5, "member": "yes", "plan": "Gold", "ref": 7})
    assert [(p.field, p.category) for p in problems] == [
        ("age", "bad_type"),
        ("member", "bad_type"),
        ("plan", "out_of_range"),
        ("ref", "bad_type"),
    ]


MIXED = parse_contract(
    _minimal(
        features=[
            {"name": "age", "type": "int", "range": [18, 120], "aliases": ["years"]},
            {"name": "member", "type": "bool"},
            {"name": "plan", "type": "category", "values": ["Basic", "Plus"]},
            {"name": "ref", "type": "string", "required": False},
            {"name": "score", "type": "float", "default": 0.5},
            {"name": "size", "type": "float", "range": [0, 10]},
        ]
    )
)
ANY_VALUE = (
    st.none() | st.booleans() | st.integers(-(10**400), 10**400) | st.integers(-5, 200)
    | st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1, 130)
    | st.sampled_from(["Basic", "plus", " Plus", "Gold", ""])
    | st.text(max_size=5) | st.lists(st.integers(), max_size=2)
)  # fmt: skip
NAMES = st.sampled_from(["age", "years", "member", "plan", "ref", "score", "size", "Size", "id", "at", "outcome", "x"])


PLAIN_RECORDS = st.fixed_dictionaries(
    {"age": st.integers(10, 130) | st.floats(17, 121), "member": st.booleans(),
     "plan": st.sampled_from(["Basic", "Plus"]), "ref": st.text(max_size=3), "score": st.floats(-2, 2),
     "size": st.floats(-1, 11) | st.integers(-1, 11)}
)  # fmt: skip


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly records that name every feature, some with a value or a name changed; or anything."""
    if draw(st.booleans()):
        return draw(st.dictionaries(NAMES, ANY_VALUE, max_size=9))
    record: dict[str, Any] = draw(PLAIN_RECORDS)
    for name in draw(st.lists(st.sampled_from(sorted(record)), max_size=2, unique=True)):
        record[name] = draw(ANY_VALUE)
    return record


@settings(max_examples=3000, deadline=None)
@given(records())
def test_the_one_pass_check_of_plain_records_answers_as_the_full_checks_do(record: dict[str, Any]) -> None:
    """Records that name every feature exactly take a shortcut; whatever the record, the answer is
    the full field-by-field checks' answer (values, or every problem)."""
    assert MIXED.validate_record(record) == MIXED._checked_values(record)


def test_a_number_of_hundreds_of_digits_is_out_of_range_not_a_crash() -> None:
    record = {**_valid(), "mean_radius": 10**400}
    _, problems = WDBC.validate_record(record)
    assert [(p.field, p.category) for p in problems] == [("mean_radius", "out_of_range")]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": {"field": "outcome", "classes": ["yes"]}}, "label.classes"),
        ({"label": {"field": "outcome", "classes": ["yes", "no"], "high_stakes": ["maybe"]}}, "not among the classes"),
        ({"features": [{"name": "c", "type": "category"}]}, "lists its allowed values"),
        ({"features": [{"name": "n", "type": "bool", "range": [0, 1]}]}, "range applies to float and int"),
        ({"features": [{"name": "n", "required": True, "default": 1.0}]}, "cannot be required"),
        ({"features": [{"name": "n", "range": [0, 1], "default": 5.0}]}, "default 5.0 is not a valid value"),
        ({"features": [{"name": "n", "aliases": ["ID"]}]}, "would mean both id and n"),
        ({"features": [{"name": "n", "type": "string"}]}, "at least one feature must be a model input"),
        ({"features": [{"name": "n", "colour": "red"}]}, "Extra inputs are not permitted"),
    ],
)
def test_a_broken_contract_is_one_clear_error_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match="data contract") as caught:
        parse_contract(_minimal(**changes))
    assert message in str(caught.value)


def test_the_digest_follows_content_not_layout(tmp_path: Path) -> None:
    original = (CONTRACTS / "wdbc.yaml").read_text(encoding="utf-8")
    (tmp_path / "reformatted.yaml").write_text("# a comment\n" + original.replace("version: 1", "version:   1"))
    assert load_contract(tmp_path / "reformatted.yaml").digest == WDBC.digest
    (tmp_path / "changed.yaml").write_text(original.replace("range: [0, 60]", "range: [0, 61]"))
    assert load_contract(tmp_path / "changed.yaml").digest != WDBC.digest


def test_unknown_contracts_and_bad_yaml_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="embedded contracts: credit, wdbc"):
        load_contract("nosuch")
    (tmp_path / "bad.yaml").write_text("name: [unclosed")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_contract(tmp_path / "bad.yaml")


def test_every_committed_contract_loads_and_the_json_schema_is_current() -> None:
    for path in CONTRACTS.glob("*.yaml"):
        load_contract(path)
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema(), "run `python -m slipway.contract`"
    schema = json.loads(json_schema())
    assert {"key", "event_time", "label", "features"} <= set(schema["required"])


def test_the_published_json_schema_accepts_every_committed_contract_and_rejects_a_broken_one() -> None:
    import jsonschema
    import yaml

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for path in CONTRACTS.glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_minimal(features=[{"name": "n", "type": "decimal"}]), schema)
