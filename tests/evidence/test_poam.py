"""The POA&M: an item per unsatisfied control, deadline by severity, and per exemption, due at its expiry."""

from __future__ import annotations

import datetime

from evidence.catalog import Catalog
from evidence.poam import plan_of_action
from evidence.results import CheckOutcome, ExemptionRisk
from evidence.validate import reference_problems, schema_problems, timestamp_problems

WHEN = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
EXEMPTION = ExemptionRisk("pod.seccomp", "Deployment/edge/public-*", "CHG-1234", "jane.doe@example.org", "2027-01-31",
                          ("sc-39",))  # fmt: skip


def _gate(failed: dict[str, str], severity: dict[str, str]) -> CheckOutcome:
    return CheckOutcome("gate", "policy gate", "TEST", "slipway gate 0.1.0", True, "gate", WHEN,
                        WHEN + datetime.timedelta(days=30), failed=failed, severity=severity)  # fmt: skip


def test_items_for_open_findings_and_exemptions_with_their_deadlines() -> None:
    document = plan_of_action("dev", "system-security-plan.json",
                              [_gate({"ac-6": "pod.privileged", "sc-7": "network.default-deny"},
                                     {"ac-6": "critical", "sc-7": "medium"})],
                              [EXEMPTION], Catalog.load(), WHEN, "0.1.0")  # fmt: skip
    assert schema_problems(document) == [] and reference_problems(document) == []
    assert timestamp_problems(document) == []
    poam = document["plan-of-action-and-milestones"]
    deadlines = {r["title"].split()[0]: r["deadline"] for r in poam["risks"]}
    assert deadlines["AC-6"] == "2026-12-16T12:00:00Z" and deadlines["SC-7"] == "2027-03-01T12:00:00Z"
    (exempted,) = [r for r in poam["risks"] if r["status"] == "deviation-approved"]
    assert exempted["deadline"] == "2027-01-31T00:00:00Z" and "jane.doe@example.org" in exempted["statement"]
    assert len(poam["poam-items"]) == 3


def test_nothing_open_is_said_so() -> None:
    document = plan_of_action("dev", "system-security-plan.json", [_gate({}, {})], [], Catalog.load(), WHEN, "0.1.0")
    assert schema_problems(document) == []
    assert [i["title"] for i in document["plan-of-action-and-milestones"]["poam-items"]] == ["Nothing open"]
