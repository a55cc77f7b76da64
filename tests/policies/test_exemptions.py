"""Exemptions: reported as exempted (never dropped), expired or malformed ones are mandatory findings,
and every use lands in the hash-chained audit trail."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from policies.gate import run_gate
from slipway.audit import AuditTrail
from slipway.errors import UsageError
from tests.policies.conftest import write_objects

TODAY = datetime.date(2026, 11, 28)
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "public-gateway", "namespace": "edge"},
    "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]},
}


def _exemptions(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "exemptions.yaml"
    path.write_text("exemptions:\n" + entries)
    return path


VALID = """\
  - rule: network.service-exposure
    match: {kind: Service, namespace: edge, name: public-*}
    justification: Public TLS endpoint behind the WAF (CHG-1234)
    approver: jane.doe@example.org
    expires: 2026-12-31
"""


def test_exempted_findings_are_reported_not_dropped(tmp_path: Path) -> None:
    manifests = write_objects(tmp_path, [SERVICE])
    result = run_gate([str(manifests)], exemptions_path=_exemptions(tmp_path, VALID), today=TODAY)
    (finding,) = [f for f in result.findings if f.rule.id == "network.service-exposure"]
    assert finding.exempted and not finding.blocking
    assert finding.exemption is not None and finding.exemption.approver == "jane.doe@example.org"
    assert result.exempted == 1
    assert result.mandatory == 0 and result.exit_code == 0  # the only mandatory finding is waived


def test_without_the_exemption_the_same_finding_blocks(tmp_path: Path) -> None:
    manifests = write_objects(tmp_path, [SERVICE])
    result = run_gate([str(manifests)], today=TODAY)
    assert any(f.rule.id == "network.service-exposure" and f.blocking for f in result.findings)
    assert result.exit_code == 1


def test_selector_must_match(tmp_path: Path) -> None:
    other = dict(SERVICE, metadata={"name": "admin-console", "namespace": "edge"})
    manifests = write_objects(tmp_path, [other])
    result = run_gate([str(manifests)], exemptions_path=_exemptions(tmp_path, VALID), today=TODAY)
    assert [f.exempted for f in result.findings if f.rule.id == "network.service-exposure"] == [False]


def test_expired_exemption_is_a_mandatory_finding_and_exempts_nothing(tmp_path: Path) -> None:
    manifests = write_objects(tmp_path, [SERVICE])
    path = _exemptions(tmp_path, VALID.replace("2026-12-31", "2026-11-27"))
    result = run_gate([str(manifests)], exemptions_path=path, today=TODAY)
    (invalid,) = [f for f in result.findings if f.rule.id == "gate.exemption"]
    assert invalid.blocking
    assert "expired on 2026-11-27" in invalid.violation.message
    assert invalid.source.file == str(path) and invalid.source.line == 2
    assert not any(f.exempted for f in result.findings)
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  - rule: network.service-exposure\n    approver: x\n    expires: 2027-01-01\n", "lacks justification"),
        ("  - {rule: no.such-rule, justification: j, approver: a, expires: 2027-01-01}\n", "unknown rule"),
        ("  - {rule: network.service-exposure, justification: j, approver: a, expires: soon}\n", "is not a date"),
        (
            "  - {rule: network.service-exposure, justification: j, approver: a, expires: 2027-01-01, "
            "match: {label: x}}\n",
            "may only hold kind, namespace and name",
        ),
        ("  - just a string\n", "is not a mapping"),
    ],
)
def test_malformed_exemptions_are_mandatory_findings(tmp_path: Path, entry: str, message: str) -> None:
    manifests = write_objects(tmp_path, [SERVICE])
    result = run_gate([str(manifests)], exemptions_path=_exemptions(tmp_path, entry), today=TODAY)
    (invalid,) = [f for f in result.findings if f.rule.id == "gate.exemption"]
    assert message in invalid.violation.message
    assert invalid.blocking


def test_unreadable_exemption_files_are_usage_errors(tmp_path: Path) -> None:
    manifests = write_objects(tmp_path, [SERVICE])
    bad = tmp_path / "bad.yaml"
    bad.write_text("exemptions: [unclosed\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        run_gate([str(manifests)], exemptions_path=bad, today=TODAY)
    bad.write_text("- a list, not a mapping\n")
    with pytest.raises(UsageError, match="expected a mapping with an 'exemptions' list"):
        run_gate([str(manifests)], exemptions_path=bad, today=TODAY)


def test_every_use_is_appended_to_the_audit_trail(tmp_path: Path) -> None:
    manifests = write_objects(tmp_path, [SERVICE])
    path = _exemptions(tmp_path, VALID)
    run_gate([str(manifests)], exemptions_path=path, today=TODAY)
    run_gate([str(manifests)], exemptions_path=path, today=TODAY)
    trail = AuditTrail.for_name("exemptions")
    assert trail.verify() == 2
    record = json.loads(trail.path.read_text().splitlines()[0])
    assert record["event"] == "exemptions.used"
    assert record["data"]["uses"][0] == {
        "rule": "network.service-exposure",
        "object": "Service/edge/public-gateway",
        "approver": "jane.doe@example.org",
        "expires": "2026-12-31",
        "justification": "Public TLS endpoint behind the WAF (CHG-1234)",
    }
