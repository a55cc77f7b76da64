"""The CrossGuard pack, spoken to over gRPC exactly as the Pulumi engine does."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2

from infra.render import render_stack
from policies.config import GateConfig
from policies.engine import evaluate
from policies.model import SourceObject
from policies.rules import ALL_RULES
from tests.conftest import PROJECT_DIR
from tests.policies.conftest import Analyzer, analyze_objects, urn_of

pytestmark = pytest.mark.slow
AT_PATH = re.compile(r"\(at (.+?)\) \[")


def test_analyzer_info_lists_every_rule_with_its_metadata(analyzer: Analyzer) -> None:
    info = analyzer.stub.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "slipway"
    policies = {p.name: p for p in info.policies}
    assert set(policies) == {rule.id for rule in ALL_RULES}
    privileged = policies["pod.privileged"]
    assert privileged.enforcementLevel == analyzer_pb2.MANDATORY
    assert privileged.severity == analyzer_pb2.POLICY_SEVERITY_CRITICAL
    assert privileged.framework.name == "Pod Security Standards"
    assert privileged.remediation_steps.startswith("Remove securityContext.privileged")
    assert "cis-k8s:5.2.2" in privileged.tags
    assert policies["workload.probes"].enforcementLevel == analyzer_pb2.ADVISORY
    assert "approvedRegistries" in policies["workload.image-registries"].configSchema.properties


def _broken_dev_stack() -> list[dict[str, Any]]:
    """The rendered dev stack with a few real mistakes added."""
    objects = [copy.deepcopy(o.manifest) for o in render_stack(PROJECT_DIR, "dev")]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["privileged"] = True
    container["image"] = "docker.io/library/nginx:latest"
    objects = [o for o in objects if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "default-deny-all")]
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "public", "namespace": "slipway-dev"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        }
    )
    return objects


def _gate_findings(objects: list[dict[str, Any]], config: GateConfig) -> set[tuple[str, str, str]]:
    sources = [SourceObject(obj, urn_of(obj, i), 0) for i, obj in enumerate(objects)]
    return {(f.rule.id, f.source.file, f.violation.path) for f in evaluate(sources, config, ALL_RULES)}


def _pack_findings(analyzer: Analyzer, objects: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    found = set()
    for policy, urn, message in analyze_objects(analyzer, objects):
        match = AT_PATH.search(message)
        assert match, message
        found.add((policy, urn, match[1]))
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_stacks_get_the_same_verdict_from_pack_and_gate(analyzer: Analyzer, stack: str) -> None:
    objects = [o.manifest for o in render_stack(PROJECT_DIR, stack)]
    registries = ["registry.localhost:5000", "registry.health.example.internal"]
    analyzer.configure({"approvedRegistries": registries})
    try:
        pack = _pack_findings(analyzer, objects)
    finally:
        analyzer.configure({})
    gate = _gate_findings(objects, GateConfig(approved_registries=tuple(registries)))
    assert pack == gate
    mandatory = {rule.id for rule in ALL_RULES if rule.enforcement.value == "mandatory"}
    assert not [f for f in pack if f[0] in mandatory]


def test_a_broken_stack_gets_the_same_findings_from_pack_and_gate(analyzer: Analyzer) -> None:
    objects = _broken_dev_stack()
    pack = _pack_findings(analyzer, objects)
    gate = _gate_findings(objects, GateConfig())
    assert pack == gate
    rules = {rule for rule, _, _ in pack}
    assert {"pod.privileged", "workload.image-pinning", "network.default-deny", "network.service-exposure"} <= rules
    default_deny = next(f for f in pack if f[0] == "network.default-deny")
    assert default_deny[1].endswith("::obj0")  # reported against the Namespace resource's URN


def test_preview_unknowns_are_reported_as_advisory_not_crashes(analyzer: Analyzer) -> None:
    from google.protobuf import struct_pb2

    properties = struct_pb2.Struct()
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine encodes a value not known until apply
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "apps"}}
    properties.update({**pod, "spec": {"containers": [{"name": "c", "image": unknown}]}})
    response = analyzer.stub.Analyze(
        analyzer_pb2.AnalyzeRequest(type="kubernetes:core/v1:Pod", properties=properties, urn="urn:x", name="p")
    )
    assert response.diagnostics, "an unknown value must be reported, not silently pass"
    for diagnostic in response.diagnostics:
        assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY
        assert "during preview" in diagnostic.message
