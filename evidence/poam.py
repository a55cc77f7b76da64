"""The OSCAL plan of action and milestones: an item per control the assessment found not satisfied
(a risk with a deadline from its severity) and per exemption (an approved deviation, due when it
expires, with its approver).

Usage::

    document = plan_of_action(stack, "system-security-plan.json", checks, exemptions, catalog, when, version)
"""

from __future__ import annotations

import datetime
from typing import Any

from evidence.catalog import Catalog
from evidence.component import NS, metadata, timestamp
from evidence.ids import stable_uuid
from evidence.results import CheckOutcome, ExemptionRisk, approvers_metadata, exemption_risk

DEADLINE_DAYS = {"critical": 15, "high": 30, "medium": 90, "low": 180}  # from the assessment, by severity


def plan_of_action(
    stack: str,
    ssp_href: str,
    checks: list[CheckOutcome],
    exemptions: list[ExemptionRisk],
    catalog: Catalog,
    when: datetime.datetime,
    version: str,
) -> dict[str, Any]:
    risks, items = [], []
    for check in checks:
        for control, why in sorted(check.failed.items()):
            severity = check.severity.get(control, "high")
            risk = {
                "uuid": stable_uuid("poam-risk", stack, check.id, control),
                "title": f"{control.upper()} not satisfied ({check.title})",
                "description": why,
                "statement": f"The check {check.id} found {control} not satisfied on stack {stack}: {why}",
                "status": "open",
                "deadline": timestamp(when + datetime.timedelta(days=DEADLINE_DAYS.get(severity, 30))),
                "props": [{"name": "severity", "ns": NS, "value": severity}],
            }
            risks.append(risk)
            items.append({"uuid": stable_uuid("poam-item", stack, check.id, control),
                          "title": risk["title"], "description": f"Fix: {why}",
                          "related-risks": [{"risk-uuid": risk["uuid"]}]})  # fmt: skip
    for exemption in exemptions:
        risk = exemption_risk(stack, exemption)
        risks.append(risk)
        items.append({"uuid": stable_uuid("poam-item", stack, "exemption", exemption.rule, exemption.match),
                      "title": risk["title"], "description": f"Review or renew before {exemption.expires}, or fix "
                                                             "the cause so the exemption can go.",
                      "related-risks": [{"risk-uuid": risk["uuid"]}]})  # fmt: skip
    document: dict[str, Any] = {
        "uuid": stable_uuid("poam", stack, timestamp(when)),
        "metadata": {**metadata(f"slipway stack {stack}: plan of action and milestones", when, version),
                     **approvers_metadata(exemptions)},
        "import-ssp": {"href": ssp_href},
        "poam-items": items or [{"uuid": stable_uuid("poam-item", stack, "none"), "title": "Nothing open",
                                 "description": "The assessment found no control unsatisfied and no exemption."}],
    }  # fmt: skip
    if risks:
        document["risks"] = risks
    return {"plan-of-action-and-milestones": document}
