"""The system security plan of a stack and the assessment plan that imports it: valid OSCAL, every
reference resolved across the two, every control one the kit implements."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml

from evidence.catalog import Catalog
from evidence.component import load_components
from evidence.ssp import assessment_plan, system_security_plan
from evidence.validate import (
    catalog_problems,
    defined_uuids,
    reference_problems,
    schema_problems,
    timestamp_problems,
)
from tests.conftest import PROJECT_DIR

WHEN = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module", params=["dev", "prod"])
def documents(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    catalog = Catalog.load()
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{request.param}.yaml").read_text())["config"]
    ssp = system_security_plan(request.param, config, load_components(catalog), catalog, WHEN, "0.1.0")
    return ssp, assessment_plan(request.param, ssp, "system-security-plan.json", WHEN, "0.1.0")


def test_both_are_valid_oscal_with_every_reference_resolved(documents: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ssp, plan = documents
    catalog = Catalog.load()
    reasons = load_components(catalog).outside_baselines
    for document, imported in ((ssp, set()), (plan, defined_uuids(ssp))):
        assert schema_problems(document) == []
        assert reference_problems(document, imported) == []
        assert catalog_problems(document, catalog, reasons) == []
        assert timestamp_problems(document) == []
    assert reference_problems(plan)  # without the SSP its subjects point at nothing: the check is real


def test_the_plan_reviews_every_control_the_ssp_implements(documents: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ssp, plan = documents
    requirements = ssp["system-security-plan"]["control-implementation"]["implemented-requirements"]
    implemented = [r["control-id"] for r in requirements]
    (selection,) = plan["assessment-plan"]["reviewed-controls"]["control-selections"]
    assert [c["control-id"] for c in selection["include-controls"]] == implemented
    assert {"ac-6", "si-7", "ac-5", "cm-8", "sc-6"} <= set(implemented)
