"""Policy test helpers: samples, the standalone engine, and a real CrossGuard analyzer process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.config import GateConfig, parse_version
from tests.conftest import PROJECT_DIR

SAMPLES = PROJECT_DIR / "policies" / "samples"


@dataclass(frozen=True)
class SampleCase:
    rule: str
    name: str
    expect: str
    objects: list[dict[str, Any]]
    paths: list[str] | None
    controls: list[str] | None
    config: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.rule}: {self.name}"


def load_samples() -> dict[str, list[SampleCase]]:
    found: dict[str, list[SampleCase]] = {}
    for path in sorted(SAMPLES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        rule = doc["rule"]
        assert path.stem == rule, f"{path.name} must be named after its rule"
        found[rule] = [
            SampleCase(
                rule, c["name"], c["expect"], c["objects"], c.get("paths"), c.get("controls"), doc.get("config", {})
            )
            for c in doc["cases"]
        ]
    return found


def sample_config(raw: dict[str, Any]) -> GateConfig:
    return GateConfig(
        pod_security_version=parse_version(raw.get("podSecurityVersion", "latest"), "sample"),
        approved_registries=tuple(raw.get("approvedRegistries", ())),
        required_labels=tuple(raw.get("requiredLabels", ("app.kubernetes.io/name",))),
    )


ALL_CASES = [case for cases in load_samples().values() for case in cases]


class Analyzer:
    """A real `policies/__main__.py` process spoken to over gRPC, as the Pulumi engine does."""

    def __init__(self) -> None:
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "policies" / "__main__.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=PROJECT_DIR,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise RuntimeError(f"analyzer did not print its port: {line!r}")
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def configure(self, config: dict[str, Any]) -> None:
        """Send per-policy config as `--policy-pack-config` would (same config for every policy)."""
        from google.protobuf import empty_pb2, struct_pb2
        from pulumi.runtime.proto import analyzer_pb2

        info = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        policy_config = {}
        for policy in info.policies:
            properties = struct_pb2.Struct()
            properties.update(config)
            policy_config[policy.name] = analyzer_pb2.PolicyConfig(
                enforcementLevel=policy.enforcementLevel, properties=properties
            )
        self.stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=policy_config))

    def close(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="session")
def analyzer() -> Iterator[Analyzer]:
    server = Analyzer()
    try:
        yield server
    finally:
        server.close()


def urn_of(obj: dict[str, Any], index: int) -> str:
    kind = obj["kind"]
    return f"urn:pulumi:test::slipway::kubernetes:x/v1:{kind}::obj{index}"


def analyze_objects(analyzer: Analyzer, objects: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(policy, urn, message) of every diagnostic for ``objects``: Analyze per object, then AnalyzeStack."""
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2

    diagnostics = []
    resources = []
    for index, obj in enumerate(objects):
        properties = struct_pb2.Struct()
        properties.update(obj)
        urn = urn_of(obj, index)
        group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else "core"
        version = obj["apiVersion"].split("/")[-1]
        resource_type = f"kubernetes:{group}/{version}:{obj['kind']}"
        response = analyzer.stub.Analyze(
            analyzer_pb2.AnalyzeRequest(type=resource_type, properties=properties, urn=urn, name=f"obj{index}")
        )
        diagnostics += [(d.policyName, urn, d.message) for d in response.diagnostics]
        resources.append(
            analyzer_pb2.AnalyzerResource(type=resource_type, properties=properties, urn=urn, name=f"obj{index}")
        )
    response = analyzer.stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
    diagnostics += [(d.policyName, d.urn, d.message) for d in response.diagnostics]
    return diagnostics


def write_objects(directory: Path, objects: list[dict[str, Any]]) -> Path:
    path = directory / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return path
