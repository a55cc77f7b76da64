"""OSCAL assessment results for one stack, from the checks `slipway evidence` ran.

Each check becomes an observation: its method (TEST for automated checks), its origin (the tool and
version), its subjects (the SSP components and the inventory items it looked at: rendered objects,
the model and image digests), when it was collected and until when it holds, and the hashed files in
the evidence folder it rests on. Each exemption is an EXAMINE observation too, whose origin is the
person who approved it (a party). Each control the plan reviews gets a finding on its assessment
objective: satisfied or not satisfied by the checks mapped to it. A control no check covers is listed
as **not assessed** (an observation that names it), never reported as failed. Exemptions are risks,
with their approver and expiry.

Usage::

    results = assessment_results(stack, plan, "assessment-plan.json", checks, exemptions, kit, catalog, when,
                                 version, assets)
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evidence.catalog import Catalog
from evidence.component import NS, KitComponents, metadata, rule_controls, timestamp
from evidence.ids import stable_uuid
from evidence.inventory import Asset, asset_uuid, inventory_item, object_key


@dataclass(frozen=True)
class Evidence:
    href: str  # relative to the evidence folder
    sha256: str
    description: str


@dataclass(frozen=True)
class CheckOutcome:
    """One check as it ran for this stack. ``failed``: control id -> why it is not satisfied (the gate
    names the controls of the rules with blocking findings; other checks fail every control they
    cover). ``ran`` False: the check could not run here (its controls are then not assessed)."""

    id: str
    title: str
    method: str  # "TEST" | "EXAMINE"
    tool: str  # "slipway gate 0.1.0"
    ran: bool
    description: str
    collected: datetime.datetime
    expires: datetime.datetime
    evidence: tuple[Evidence, ...] = ()
    subjects: tuple[str, ...] = ()  # SSP component uuids
    items: tuple[str, ...] = ()  # asset keys (inventory items) it looked at
    failed: dict[str, str] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)  # control -> the worst severity behind its failure


@dataclass(frozen=True)
class ExemptionRisk:
    rule: str
    match: str  # the exempted object, as ``inventory.object_id`` names it
    justification: str
    approver: str
    expires: str  # YYYY-MM-DD
    controls: tuple[str, ...]
    source: Evidence | None = None  # the exemptions file, copied into the evidence folder

    @property
    def object_key(self) -> str:
        return object_key(self.match)


APPROVER_ROLE = {
    "id": "approver",
    "title": "Exemption approver",
    "description": "Approved a deviation from a gate rule, with its justification and expiry.",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def approver_party(name: str) -> dict[str, Any]:
    party: dict[str, Any] = {"uuid": stable_uuid("party", name), "type": "person", "name": name}
    if EMAIL.match(name):
        party["email-addresses"] = [name]
    return party


def approvers_metadata(exemptions: list[ExemptionRisk]) -> dict[str, Any]:
    """The metadata members naming the exemptions' approvers (parties) and their role."""
    names = sorted({e.approver for e in exemptions})
    return {"roles": [APPROVER_ROLE], "parties": [approver_party(n) for n in names]} if names else {}


def checks_by_control(kit: KitComponents, catalog: Catalog) -> dict[str, set[str]]:
    """Control id -> the checks whose outcome decides it."""
    covered: dict[str, set[str]] = {}
    for component in kit.components:
        for mechanism in component.implements:
            if mechanism.check:
                covered.setdefault(mechanism.control, set()).add(mechanism.check)
    for control in rule_controls(catalog, kit.outside_baselines):
        covered.setdefault(control, set()).add("gate")
    return covered


def _observation(stack: str, check: CheckOutcome, tools: dict[str, str]) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "uuid": stable_uuid("observation", stack, check.id),
        "title": check.title,
        "description": check.description,
        "methods": [check.method],
        "types": ["control-objective"],
        "origins": [{"actors": [{"type": "tool", "actor-uuid": tools[check.tool]}]}],
        "collected": timestamp(check.collected),
        "expires": timestamp(check.expires),
        "props": [{"name": "outcome", "ns": NS, "value": "passed" if check.ran and not check.failed
                   else ("failed" if check.ran else "not-run")}],
    }  # fmt: skip
    subjects = [{"subject-uuid": s, "type": "component"} for s in check.subjects]
    subjects += [{"subject-uuid": asset_uuid(stack, key), "type": "inventory-item"} for key in check.items]
    if subjects:
        observation["subjects"] = subjects
    if check.evidence:
        observation["relevant-evidence"] = [
            {"href": f"#{stable_uuid('evidence', stack, e.href)}", "description": e.description} for e in check.evidence
        ]
    return observation


def _exemption_observation(
    stack: str, exemption: ExemptionRisk, assets: set[str], when: datetime.datetime
) -> dict[str, Any]:
    """The approver's review of an exemption, as an EXAMINE observation whose origin is that person
    (collected when this run examined it: the exemptions file records no approval time)."""
    expires = datetime.datetime.fromisoformat(exemption.expires).replace(tzinfo=datetime.UTC)
    observation: dict[str, Any] = {
        "uuid": exemption_observation_uuid(stack, exemption),
        "title": f"Exemption from {exemption.rule} for {exemption.match} reviewed and approved",
        "description": f"{exemption.approver} approved not enforcing {exemption.rule} on {exemption.match} "
                       f"until {exemption.expires}: {exemption.justification}",
        "methods": ["EXAMINE"],
        "types": ["control-objective"],
        "origins": [{"actors": [{"type": "party", "actor-uuid": stable_uuid("party", exemption.approver),
                                 "role-id": APPROVER_ROLE["id"]}]}],
        "collected": timestamp(when),
        "expires": timestamp(expires + datetime.timedelta(days=1)),  # valid through its expiry date
        "props": [{"name": "outcome", "ns": NS, "value": "deviation-approved"}],
    }  # fmt: skip
    if exemption.object_key in assets:
        observation["subjects"] = [{"subject-uuid": asset_uuid(stack, exemption.object_key), "type": "inventory-item"}]
    if exemption.source is not None:
        observation["relevant-evidence"] = [{"href": f"#{stable_uuid('evidence', stack, exemption.source.href)}",
                                             "description": exemption.source.description}]  # fmt: skip
    return observation


def exemption_observation_uuid(stack: str, exemption: ExemptionRisk) -> str:
    return stable_uuid("observation", stack, "exemption", exemption.rule, exemption.match)


def assessment_results(
    stack: str,
    plan: dict[str, Any],
    plan_href: str,
    checks: list[CheckOutcome],
    exemptions: list[ExemptionRisk],
    kit: KitComponents,
    catalog: Catalog,
    when: datetime.datetime,
    version: str,
    assets: Sequence[Asset] = (),
) -> dict[str, Any]:
    (selection,) = plan["assessment-plan"]["reviewed-controls"]["control-selections"]
    reviewed = [c["control-id"] for c in selection["include-controls"]]
    by_id = {c.id: c for c in checks}
    tools = {tool: stable_uuid("tool", tool) for tool in sorted({c.tool for c in checks})}
    keys = {a.key for a in assets}
    observations = [_observation(stack, c, tools) for c in checks]
    observations += [_exemption_observation(stack, e, keys, when) for e in exemptions]
    risks = []
    for exemption in exemptions:
        risk = exemption_risk(stack, exemption)
        risk["related-observations"] = [{"observation-uuid": exemption_observation_uuid(stack, exemption)}]
        risks.append(risk)
    exempted: dict[str, list[ExemptionRisk]] = {}
    for exemption in exemptions:
        for control in exemption.controls:
            exempted.setdefault(control, []).append(exemption)
    findings, not_assessed = [], []
    covered = checks_by_control(kit, catalog)
    for control in reviewed:
        ran = [by_id[c] for c in sorted(covered.get(control, ())) if c in by_id and by_id[c].ran]
        if not ran:
            not_assessed.append(control)
            continue
        reasons = [c.failed[control] for c in ran if control in c.failed]
        finding: dict[str, Any] = {
            "uuid": stable_uuid("finding", stack, control),
            "title": f"{control.upper()} {catalog.controls[control].title if control in catalog.controls else ''}"
            .strip(),
            "description": "; ".join(reasons) if reasons else "Every check mapped to this control passed: "
                           + ", ".join(c.id for c in ran) + ".",
            "target": {"type": "objective-id", "target-id": _objective(catalog, control),
                       "status": {"state": "not-satisfied" if reasons else "satisfied"}},
            "related-observations": [{"observation-uuid": stable_uuid("observation", stack, c.id)} for c in ran]
                                    + [{"observation-uuid": exemption_observation_uuid(stack, e)}
                                       for e in exempted.get(control, [])],
        }  # fmt: skip
        if control in exempted:
            finding["related-risks"] = [{"risk-uuid": exemption_risk_uuid(stack, e)} for e in exempted[control]]
        findings.append(finding)
    if not_assessed:
        observations.append({
            "uuid": stable_uuid("observation", stack, "not-assessed"),
            "title": "Controls not assessed by this run",
            "description": "No automated check of the kit covers these controls (or their check could not run "
                           "here); they are implemented as the SSP says but were not assessed, and are not "
                           "reported as failed: " + ", ".join(not_assessed) + ".",
            "methods": ["EXAMINE"], "types": ["control-objective"],
            "origins": [{"actors": [{"type": "tool", "actor-uuid": stable_uuid("tool", "slipway evidence")}]}],
            "collected": timestamp(when),
            "props": [{"name": "not-assessed", "ns": NS, "value": c} for c in not_assessed],
        })  # fmt: skip
        tools["slipway evidence"] = stable_uuid("tool", "slipway evidence")
    result: dict[str, Any] = {
        "uuid": stable_uuid("result", stack, timestamp(when)),
        "title": f"slipway evidence for stack {stack}",
        "description": f"{sum(f['target']['status']['state'] == 'satisfied' for f in findings)} controls satisfied, "
                       f"{sum(f['target']['status']['state'] == 'not-satisfied' for f in findings)} not satisfied, "
                       f"{len(not_assessed)} not assessed.",
        "start": timestamp(min([c.collected for c in checks], default=when)),
        "end": timestamp(when),
        "local-definitions": {"components": [
            {"uuid": uuid, "type": "software", "title": tool, "description": f"{tool}, which ran the check.",
             "status": {"state": "operational"}} for tool, uuid in sorted(tools.items())],
            **({"inventory-items": [inventory_item(stack, a) for a in assets]} if assets else {})},
        "reviewed-controls": plan["assessment-plan"]["reviewed-controls"],
        "observations": observations,
        "findings": findings,
    }  # fmt: skip
    if risks:
        result["risks"] = risks
    resources = [{"uuid": stable_uuid("evidence", stack, e.href), "title": e.description,
                  "rlinks": [{"href": e.href, "hashes": [{"algorithm": "SHA-256", "value": e.sha256}]}]}
                 for e in sorted({*(e for c in checks for e in c.evidence),
                                  *(x.source for x in exemptions if x.source is not None)},
                                 key=lambda e: e.href)]  # fmt: skip
    document: dict[str, Any] = {
        "uuid": stable_uuid("assessment-results", stack, timestamp(when)),
        "metadata": {
            **metadata(f"slipway stack {stack}: assessment results", when, version),
            **approvers_metadata(exemptions),
        },
        "import-ap": {"href": plan_href},
        "results": [result],
    }
    if resources:
        document["back-matter"] = {"resources": resources}
    return {"assessment-results": document}


def _objective(catalog: Catalog, control: str) -> str:
    return catalog.objective(control) if control in catalog.controls else f"{control}_obj"


def exemption_risk(stack: str, exemption: ExemptionRisk) -> dict[str, Any]:
    """An exemption as an OSCAL risk: an approved deviation, due when it expires."""
    deadline = datetime.datetime.fromisoformat(exemption.expires).replace(tzinfo=datetime.UTC)
    return {
        "uuid": exemption_risk_uuid(stack, exemption),
        "title": f"Exemption from {exemption.rule} for {exemption.match}",
        "description": exemption.justification,
        "statement": f"The gate's rule {exemption.rule} is not enforced on {exemption.match} until "
                     f"{exemption.expires}; approved by {exemption.approver}.",
        "status": "deviation-approved",
        "deadline": timestamp(deadline),
        "props": [{"name": "approver", "ns": NS, "value": exemption.approver}],
        "origins": [{"actors": [{"type": "party", "actor-uuid": stable_uuid("party", exemption.approver),
                                 "role-id": APPROVER_ROLE["id"]}]}],
    }  # fmt: skip


def exemption_risk_uuid(stack: str, exemption: ExemptionRisk) -> str:
    return stable_uuid("risk", stack, exemption.rule, exemption.match)
