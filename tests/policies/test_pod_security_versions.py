"""Version-dependent Pod Security details follow the configured podSecurityVersion, as PSA does."""

from __future__ import annotations

from typing import Any

import pytest

from policies.config import GateConfig, parse_version
from policies.engine import evaluate
from policies.model import SourceObject
from policies.rules import RULES_BY_ID


def _controls(rule: str, version: str, spec: dict[str, Any], **container: Any) -> set[str]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": "i", **container}], **spec},
    }
    config = GateConfig(pod_security_version=parse_version(version, "test"))
    findings = evaluate([SourceObject(pod, "p.yaml", 1)], config, [RULES_BY_ID[rule]])
    return {c for f in findings for c in f.controls if c.startswith("pss:")}


def _sysctl(name: str) -> dict[str, Any]:
    return {"securityContext": {"sysctls": [{"name": name, "value": "1"}]}}


@pytest.mark.parametrize(
    ("name", "first_safe"),
    [
        ("net.ipv4.ip_local_reserved_ports", "1.27"),
        ("net.ipv4.tcp_keepalive_time", "1.29"),
        ("net.ipv4.tcp_rmem", "1.32"),
        ("kernel.shm_rmid_forced", "1.0"),
    ],
)
def test_safe_sysctls_grow_with_the_version(name: str, first_safe: str) -> None:
    major, minor = (int(p) for p in first_safe.split("."))
    if minor > 0:
        assert _controls("pod.sysctls", f"{major}.{minor - 1}", _sysctl(name)) == {"pss:baseline/sysctls"}
    assert _controls("pod.sysctls", first_safe, _sysctl(name)) == set()
    assert _controls("pod.sysctls", "latest", _sysctl(name)) == set()


def test_container_engine_t_is_allowed_from_1_31() -> None:
    context = {"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}
    assert _controls("pod.selinux", "1.30", {}, **context) == {"pss:baseline/selinux"}
    assert _controls("pod.selinux", "1.31", {}, **context) == set()


def test_host_in_probes_is_checked_from_1_34() -> None:
    probe = {"livenessProbe": {"httpGet": {"host": "10.1.2.3", "port": 80}}}
    assert _controls("pod.host-probes", "1.33", {}, **probe) == set()
    assert _controls("pod.host-probes", "1.34", {}, **probe) == {"pss:baseline/host-probes"}


def test_user_namespace_relaxations() -> None:
    user_ns = {"hostUsers": False}
    assert _controls("pod.run-as-non-root", "1.33", user_ns) == {"pss:restricted/run-as-non-root"}
    assert _controls("pod.run-as-non-root", "1.34", user_ns) == set()
    unmasked = {"securityContext": {"procMount": "Unmasked"}}
    both = {"pss:baseline/proc-mount", "pss:restricted/proc-mount"}
    assert _controls("pod.proc-mount", "1.34", user_ns, **unmasked) == both
    assert _controls("pod.proc-mount", "1.35", user_ns, **unmasked) == {"pss:restricted/proc-mount"}
    assert _controls("pod.proc-mount", "latest", {}, **unmasked) == both


def test_windows_pods_are_exempt_from_linux_only_restricted_checks_from_1_25() -> None:
    windows = {"os": {"name": "windows"}}
    for rule in ("pod.privilege-escalation", "pod.seccomp", "pod.capabilities"):
        assert _controls(rule, "1.24", windows), rule
        assert _controls(rule, "1.25", windows) == set(), rule
