"""The OSCAL component definition: valid against NIST's OSCAL 1.2.3 schema and the SP 800-53
baselines, and true to the gate's own rule mappings."""

from __future__ import annotations

import copy
import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest

from evidence.catalog import CATALOGS, Catalog, ReferenceChanged, reference_file
from evidence.component import component_definition, load_components
from evidence.validate import catalog_problems, reference_problems, schema_problems, timestamp_problems
from policies.rules import ALL_RULES

WHEN = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="module")
def document(catalog: Catalog) -> dict[str, Any]:
    return component_definition(load_components(catalog), catalog, WHEN, "0.1.0")


def _requirements(document: dict[str, Any], component: str) -> dict[str, dict[str, Any]]:
    (found,) = (c for c in document["component-definition"]["components"] if c["title"] == component)
    return {r["control-id"]: r for ci in found["control-implementations"] for r in ci["implemented-requirements"]}


def test_the_catalogs_hold_the_two_baselines_with_their_objectives(catalog: Catalog) -> None:
    assert len(catalog.controls) == 424  # the shared README's count for HIGH and PRIVACY together
    assert catalog.control("nist-800-53:AC-6(1)") == "ac-6.1" and catalog.objective("ac-6") == "ac-6_obj"
    with pytest.raises(KeyError, match="neither the HIGH nor the PRIVACY"):
        catalog.control("nist-800-53:SC-6")


def test_a_changed_reference_file_is_refused(tmp_path: Path) -> None:
    name = next(iter(CATALOGS))
    shutil.copyfile(reference_file(name, CATALOGS[name]), tmp_path / name)
    with (tmp_path / name).open("a") as handle:
        handle.write(" ")
    with pytest.raises(ReferenceChanged, match="not the pinned"):
        reference_file(name, CATALOGS[name], tmp_path)


def test_it_validates_against_the_schema_references_catalog_and_time_zones(
    document: dict[str, Any], catalog: Catalog
) -> None:
    reasons = load_components(catalog).outside_baselines
    assert schema_problems(document) == []
    assert reference_problems(document) == []
    assert catalog_problems(document, catalog, reasons) == []
    assert timestamp_problems(document) == []


def test_every_rule_mapping_is_an_implemented_requirement_of_the_gate(
    document: dict[str, Any], catalog: Catalog
) -> None:
    gate = _requirements(document, "Policy gate")
    reasons = load_components(catalog).outside_baselines
    for rule in ALL_RULES:
        for mapping in (m for m in rule.controls if m.startswith("nist-800-53:")):
            control = mapping.split(":")[1].lower().replace("(", ".").rstrip(")")
            assert control in catalog.controls or control in reasons
            rules = {p["value"] for p in gate[control]["props"] if p["name"] == "rule"}
            assert rule.id in rules, (rule.id, control)
    assert "sc-6" in gate and "Resource Availability" in document["component-definition"]["components"][0][
        "control-implementations"][-1]["description"]  # fmt: skip


def test_the_checks_can_fail(document: dict[str, Any], catalog: Catalog) -> None:
    broken = copy.deepcopy(document)
    definition = broken["component-definition"]
    definition["metadata"]["last-modified"] = "2026-12-01T12:00:00"
    implementation = definition["components"][0]["control-implementations"][0]
    implementation["source"] = "#00000000-0000-4000-8000-000000000000"
    implementation["implemented-requirements"][0]["control-id"] = "zz-99"
    definition["components"][1]["type"] = 7
    assert any("components/1/type" in p for p in schema_problems(broken))
    assert any("points at nothing" in p for p in reference_problems(broken))
    assert catalog_problems(broken, catalog, {}) and "zz-99" in catalog_problems(broken, catalog, {})[0]
    assert timestamp_problems(broken) == [
        "/component-definition/metadata/last-modified: 2026-12-01T12:00:00 has no time zone"
    ]


def test_the_same_inputs_give_the_same_document(catalog: Catalog) -> None:
    kit = load_components(catalog)
    assert component_definition(kit, catalog, WHEN, "0.1.0") == component_definition(kit, catalog, WHEN, "0.1.0")
