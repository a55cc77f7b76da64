"""Assessment results from check outcomes: valid OSCAL importing the plan, a finding per assessed
control objective, unchecked controls stated as not assessed (never failed), exemptions as risks."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import yaml

from evidence.catalog import Catalog
from evidence.component import load_components
from evidence.inventory import Asset
from evidence.results import CheckOutcome, Evidence, ExemptionRisk, assessment_results
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
LATER = WHEN + datetime.timedelta(days=30)


def _outcome(
    check: str, *, ran: bool = True, failed: dict[str, str] | None = None, items: tuple[str, ...] = ()
) -> CheckOutcome:
    evidence = (Evidence(f"{check}.json", "a" * 64, f"{check} report"),)
    return CheckOutcome(check, f"check {check}", "TEST", f"slipway {check} 0.1.0", ran, f"{check} on the stack",
                        WHEN, LATER, evidence, items=items, failed=failed or {})  # fmt: skip


@pytest.fixture(scope="module")
def setup() -> tuple[Catalog, Any, dict[str, Any], dict[str, Any]]:
    catalog = Catalog.load()
    kit = load_components(catalog)
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    ssp = system_security_plan("dev", config, kit, catalog, WHEN, "0.1.0")
    return catalog, kit, ssp, assessment_plan("dev", ssp, "system-security-plan.json", WHEN, "0.1.0")


DEPLOYMENT = Asset("object/Deployment/edge/public-api", "the public API", "this-system", (("kind", "Deployment"),),
                   "rendered/edge/deployment-public-api.yaml")  # fmt: skip
MODEL = Asset("model", "the pinned model", "model-server", (("model-digest", "sha256:" + "b" * 64),))
EXEMPTIONS_FILE = Evidence("exemptions.yaml", "c" * 64, "the exemptions file")
EXEMPTION = ExemptionRisk("pod.seccomp", "Deployment/edge/public-api", "CHG-1234", "jane.doe@example.org",
                          "2027-01-31", ("sc-39",), EXEMPTIONS_FILE)  # fmt: skip


def _results(setup: Any, checks: list[CheckOutcome], exemptions: list[ExemptionRisk] | None = None) -> dict[str, Any]:
    catalog, kit, _, plan = setup
    return assessment_results("dev", plan, "assessment-plan.json", checks, exemptions or [], kit, catalog, WHEN,
                              "0.1.0", [DEPLOYMENT, MODEL])  # fmt: skip


def test_valid_oscal_whose_references_resolve_through_the_plan_and_the_ssp(setup: Any) -> None:
    catalog, kit, ssp, plan = setup
    results = _results(setup, [_outcome("gate", failed={"ac-6": "pod.privileged: 1 blocking finding"},
                                        items=(DEPLOYMENT.key,)),
                               _outcome("audit-reviews"), _outcome("model-signature", items=("model",))],
                       [EXEMPTION])  # fmt: skip
    imported = defined_uuids(plan) | defined_uuids(ssp)
    assert schema_problems(results) == []
    assert reference_problems(results, imported) == []
    assert catalog_problems(results, catalog, kit.outside_baselines) == []
    assert timestamp_problems(results) == []


def test_findings_follow_the_checks_and_unchecked_controls_are_not_assessed(setup: Any) -> None:
    results = _results(setup, [_outcome("gate", failed={"ac-6": "pod.privileged: 1 blocking finding"}),
                               _outcome("model-signature", ran=False)])  # fmt: skip
    (result,) = results["assessment-results"]["results"]
    states = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in result["findings"]}
    assert states["ac-6_obj"] == "not-satisfied" and states["sc-7_obj"] == "satisfied"
    assert "ac-5_obj" not in states and "ia-2_obj" not in states  # their checks were not given, or none exists
    (not_assessed,) = [o for o in result["observations"] if o["title"] == "Controls not assessed by this run"]
    unchecked = {p["value"] for p in not_assessed["props"]}
    assert {"ac-5", "ia-2", "au-10"} <= unchecked and not unchecked & {f["target"]["target-id"][:-4] for f in
                                                                     result["findings"]}  # fmt: skip
    assert result["description"].endswith(f"{len(unchecked)} not assessed.")


def test_an_exemption_is_an_approved_deviation_with_its_approver_and_deadline(setup: Any) -> None:
    (result,) = _results(setup, [_outcome("gate")], [EXEMPTION])["assessment-results"]["results"]
    (risk,) = result["risks"]
    assert risk["status"] == "deviation-approved" and risk["deadline"] == "2027-01-31T00:00:00Z"
    assert {"name": "approver", "ns": "https://slipway.dev/ns/oscal", "value": "jane.doe@example.org"} in risk["props"]
    (finding,) = [f for f in result["findings"] if f["target"]["target-id"] == "sc-39_obj"]
    assert finding["related-risks"] == [{"risk-uuid": risk["uuid"]}]


def test_an_exemption_is_examined_by_its_approver_a_party_and_names_the_exempted_object(setup: Any) -> None:
    results = _results(setup, [_outcome("gate", items=(DEPLOYMENT.key,))], [EXEMPTION])["assessment-results"]
    (party,) = results["metadata"]["parties"]
    assert party["name"] == "jane.doe@example.org" and party["email-addresses"] == ["jane.doe@example.org"]
    assert results["metadata"]["roles"][0]["id"] == "approver"
    (result,) = results["results"]
    (examined,) = [o for o in result["observations"] if o["methods"] == ["EXAMINE"] and "Exemption" in o["title"]]
    (actor,) = examined["origins"][0]["actors"]
    assert actor == {"type": "party", "actor-uuid": party["uuid"], "role-id": "approver"}
    (item,) = [i for i in result["local-definitions"]["inventory-items"] if i["props"][0]["value"] == DEPLOYMENT.key]
    assert examined["subjects"] == [{"subject-uuid": item["uuid"], "type": "inventory-item"}]
    assert examined["expires"] == "2027-02-01T00:00:00Z"  # valid through its expiry date
    (evidence,) = examined["relevant-evidence"]
    resources = {r["uuid"]: r for r in results["back-matter"]["resources"]}
    assert resources[evidence["href"][1:]]["rlinks"][0] == {
        "href": "exemptions.yaml", "hashes": [{"algorithm": "SHA-256", "value": "c" * 64}]}  # fmt: skip
    (risk,) = result["risks"]
    assert risk["related-observations"] == [{"observation-uuid": examined["uuid"]}]
    assert risk["origins"][0]["actors"][0]["actor-uuid"] == party["uuid"]
    (finding,) = [f for f in result["findings"] if f["target"]["target-id"] == "sc-39_obj"]
    assert {"observation-uuid": examined["uuid"]} in finding["related-observations"]


def test_observations_name_the_objects_model_and_image_they_looked_at(setup: Any) -> None:
    (result,) = _results(setup, [_outcome("gate", items=(DEPLOYMENT.key,)), _outcome("model-signature",
                                 items=("model",))])["assessment-results"]["results"]  # fmt: skip
    items = {i["uuid"]: i for i in result["local-definitions"]["inventory-items"]}
    named = {o["title"]: [items[s["subject-uuid"]]["props"][0]["value"] for s in o.get("subjects", [])
                          if s["type"] == "inventory-item"] for o in result["observations"]}  # fmt: skip
    assert named["check gate"] == [DEPLOYMENT.key] and named["check model-signature"] == ["model"]
    (model,) = [i for i in items.values() if i["props"][0]["value"] == "model"]
    assert {"name": "model-digest", "ns": "https://slipway.dev/ns/oscal", "value": "sha256:" + "b" * 64} in model[
        "props"
    ]
