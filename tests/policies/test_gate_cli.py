"""The real `slipway gate` command: exit codes, stdin, atomic --output, config errors, our own stacks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.render import render_stack, write_manifests
from tests.conftest import PROJECT_DIR, SLIPWAY
from tests.policies.conftest import write_objects

GATE_CONFIG = str(PROJECT_DIR / "policies" / "gate.yaml")
CLEAN_CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps"}, "data": {}}
PRIVILEGED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "apps"},
    "spec": {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]},
}


def _gate(*args: str, stdin: str | None = None, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLIPWAY, "gate", *args], input=stdin, cwd=cwd, capture_output=True, text=True, check=False, env=os.environ
    )


def test_clean_input_exits_0(tmp_path: Path) -> None:
    result = _gate(str(write_objects(tmp_path, [CLEAN_CONFIGMAP])))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1].startswith("PASS: 1 objects")


def test_a_mandatory_finding_exits_1(tmp_path: Path) -> None:
    result = _gate(str(write_objects(tmp_path, [PRIVILEGED_POD])), "--format", "json")
    assert result.returncode == 1
    assert "pod.privileged" in {f["rule"] for f in json.loads(result.stdout)["findings"]}


def test_unusable_input_exits_2_and_the_rest_is_still_checked(tmp_path: Path) -> None:
    good = write_objects(tmp_path, [PRIVILEGED_POD])
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: a: b\n")
    result = _gate(str(good), str(broken), "--format", "json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["errors"][0]["file"] == str(broken)
    assert document["errors"][0]["line"] == 5
    assert document["errors"][0]["message"] == "invalid YAML: mapping values are not allowed in this context"
    assert any(f["rule"] == "pod.privileged" for f in document["findings"]), "the good file was not checked"
    assert "Traceback" not in result.stderr


def test_stdin_is_read_with_dash() -> None:
    result = _gate("-", "--format", "json", stdin=json.dumps(PRIVILEGED_POD))
    assert result.returncode == 1
    assert json.loads(result.stdout)["findings"][0]["resource"]["file"] == "-"


def test_a_big_stream_on_stdin_reports_each_object_at_its_line_and_a_bad_document_too() -> None:
    """`helm template ... | slipway gate -`: one stream of thousands of documents."""
    pods = [yaml.safe_dump({**PRIVILEGED_POD, "metadata": {"name": f"p{i}", "namespace": "apps"}}) for i in range(3000)]
    pods[1500] = "kind: Pod\n  bad: [indent\n"
    result = _gate("-", "--format", "json", stdin="".join("---\n" + pod for pod in pods))
    report = json.loads(result.stdout)
    assert result.returncode == 2 and report["summary"]["objects"] == 2999
    lines = {f["resource"]["name"]: f["resource"]["line"] for f in report["findings"]}
    per_pod, bad_marker = pods[0].count("\n") + 1, 1 + 1500 * (pods[0].count("\n") + 1)  # lines, with "---"
    assert lines["p0"] == 2 and lines["p1499"] == 2 + 1499 * per_pod
    assert lines["p2999"] == 2 + 2998 * per_pod + 3  # after the 3-line bad document
    (error,) = report["errors"]
    assert error["file"] == "-" and bad_marker < error["line"] <= bad_marker + 3


def test_output_is_written_atomically_with_a_summary_on_stdout(tmp_path: Path) -> None:
    report = tmp_path / "out" / "gate.sarif"
    result = _gate(str(write_objects(tmp_path, [PRIVILEGED_POD])), "--format", "sarif", "--output", str(report))
    assert result.returncode == 1
    assert json.loads(report.read_text())["version"] == "2.1.0"
    assert result.stdout.startswith("FAIL: 1 objects") and str(report) in result.stdout
    assert [p.name for p in report.parent.iterdir()] == ["gate.sarif"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("enforcement: {no.such-rule: advisory}\n", "enforcement names unknown rule 'no.such-rule'"),
        ("enforcement: {pod.privileged: sometimes}\n", "must be mandatory, advisory or disabled"),
        ("podSecurityVersion: next\n", "must be 'latest' or like '1.33'"),
        ("registries: [a]\n", "unknown key(s) ['registries']"),
    ],
)
def test_bad_config_is_exit_2_with_one_line(tmp_path: Path, config: str, message: str) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text(config)
    result = _gate(str(write_objects(tmp_path, [CLEAN_CONFIGMAP])), "--config", str(path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_enforcement_can_be_relaxed_per_rule(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text("enforcement: {pod.privileged: advisory}\n")
    result = _gate(str(write_objects(tmp_path, [PRIVILEGED_POD])), "--config", str(path), "--format", "json")
    findings = json.loads(result.stdout)["findings"]
    assert next(f for f in findings if f["rule"] == "pod.privileged")["enforcement"] == "advisory"


def test_help_has_examples_and_exit_codes() -> None:
    result = _gate("--help")
    assert "slipway gate build/manifests --format sarif --output gate.sarif" in result.stdout
    assert "Exit codes:" in result.stdout


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_kits_own_stacks_pass_the_gate(tmp_path: Path, stack: str) -> None:
    write_manifests(render_stack(PROJECT_DIR, stack), tmp_path / "manifests")
    result = _gate(str(tmp_path / "manifests"), "--config", GATE_CONFIG, "--format", "json")
    document = json.loads(result.stdout)
    assert result.returncode == 0, [f for f in document["findings"] if f["enforcement"] == "mandatory"]
    assert document["summary"]["mandatory"] == 0
    assert document["summary"]["objects"] > 15
