"""Secrets: no secret-looking literal values in ConfigMaps or container env vars.

Values are judged by what they look like (private keys, cloud and VCS tokens, JWTs, credentials
in URLs) and by the name they are stored under (password, token, api key, ...). Messages name
the key, never the value: a gate report must not become the leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.config import GateConfig
from policies.k8s import PodView, mapping, sequence
from policies.model import Enforcement, Obj, Rule, Severity, Violation

DOCS = "policies/RULES.md"
SECRET_NAME = re.compile(
    r"(passw(or)?d|passwd|secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|credential|client[_-]?secret)",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|://[^/\s:@]+:[^/\s@]+@"
)
PLACEHOLDER = re.compile(r"^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^>]+>|changeme|redacted|\*+|)$", re.IGNORECASE)


def looks_secret(name: str, value: str) -> str | None:
    """Why ``value`` stored under ``name`` looks like a secret, or None."""
    if SECRET_VALUE.search(value):
        return "its value has the shape of a credential"
    if SECRET_NAME.search(name) and not PLACEHOLDER.match(value.strip()) and len(value.strip()) >= 6:
        return "its name says it holds a secret"
    return None


def _config_map(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    for key, value in mapping(obj.get("data")).items():
        reason = looks_secret(str(key), str(value))
        if reason:
            yield Violation(f"data['{key}']", f"ConfigMap key {key!r} holds a literal secret: {reason}")


def _env(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for c in pod.containers():
        for index, env in enumerate(sequence(c.container.get("env"))):
            env = mapping(env)
            if "value" not in env:
                continue
            reason = looks_secret(str(env.get("name", "")), str(env["value"]))
            if reason:
                yield Violation(
                    f"{c.path}.env[{index}].value",
                    f"container {c.name!r} env var {env.get('name')!r} holds a literal secret: {reason}",
                )


_REMEDIATION = (
    "Move the value into a Secret (from your secret manager) and reference it with valueFrom.secretKeyRef "
    "or a mounted volume; rotate the exposed value."
)

RULES = (
    Rule(
        id="secret.literal",
        title="No secret literals in ConfigMaps or environment variables",
        severity=Severity.HIGH,
        enforcement=Enforcement.MANDATORY,
        concern="bp:secret-literal",
        controls=("cis-k8s:5.4.1", "nist-800-53:IA-5", "nist-800-53:SC-28"),
        remediation=_REMEDIATION,
        doc_url=f"{DOCS}#secret-literal",
        kinds=frozenset({"ConfigMap"}),
        check=_config_map,
    ),
    Rule(
        id="secret.env-literal",
        title="No secret literals in container environment variables",
        severity=Severity.HIGH,
        enforcement=Enforcement.MANDATORY,
        concern="bp:secret-literal",
        controls=("cis-k8s:5.4.1", "nist-800-53:IA-5"),
        remediation=_REMEDIATION,
        doc_url=f"{DOCS}#secret-env-literal",
        pod_check=_env,
    ),
)
