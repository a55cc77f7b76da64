"""Gate configuration: which Kubernetes version's Pod Security rules apply, approved registries,
required labels, per-rule enforcement. Read from ``--config FILE`` (YAML); everything is optional.

Example::

    podSecurityVersion: latest          # or "1.33": version-dependent PSS details follow it
    approvedRegistries: [registry.example.internal]
    requiredLabels: [app.kubernetes.io/name, owner, data-classification]
    enforcement:                        # rule id -> mandatory | advisory | disabled
      workload.probes: mandatory
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policies.model import Enforcement
from slipway.errors import UsageError

LATEST = (1, 10_000)
DEFAULT_REQUIRED_LABELS = ("app.kubernetes.io/name",)
SERVING_COMPONENT = "model-server"


@dataclass(frozen=True)
class GateConfig:
    pod_security_version: tuple[int, int] = LATEST
    approved_registries: tuple[str, ...] = ()
    required_labels: tuple[str, ...] = DEFAULT_REQUIRED_LABELS
    enforcement: dict[str, Enforcement] = field(default_factory=dict)

    def pss_at_least(self, major: int, minor: int) -> bool:
        return self.pod_security_version >= (major, minor)


def parse_version(value: Any, source: str) -> tuple[int, int]:
    text = str(value).strip().lower().removeprefix("v")
    if text == "latest":
        return LATEST
    match = re.fullmatch(r"(\d+)\.(\d+)(\.\d+)?", text)
    if not match:
        raise UsageError(f"{source}: podSecurityVersion {value!r} must be 'latest' or like '1.33'")
    return int(match[1]), int(match[2])


def load_config(path: Path | None, known_rules: set[str]) -> GateConfig:
    if path is None:
        return GateConfig()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    except OSError as exc:
        raise UsageError(f"cannot read gate config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"gate config {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"gate config {path}: expected a mapping")
    allowed = {"podSecurityVersion", "approvedRegistries", "requiredLabels", "enforcement"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise UsageError(f"gate config {path}: unknown key(s) {unknown}; known: {sorted(allowed)}")
    enforcement: dict[str, Enforcement] = {}
    for rule, level in (data.get("enforcement") or {}).items():
        if rule not in known_rules:
            raise UsageError(f"gate config {path}: enforcement names unknown rule {rule!r}")
        try:
            enforcement[rule] = Enforcement(str(level))
        except ValueError:
            raise UsageError(
                f"gate config {path}: enforcement of {rule} must be mandatory, advisory or disabled, not {level!r}"
            ) from None
    return GateConfig(
        pod_security_version=parse_version(data.get("podSecurityVersion", "latest"), str(path)),
        approved_registries=_strings(data, "approvedRegistries", path, ()),
        required_labels=_strings(data, "requiredLabels", path, DEFAULT_REQUIRED_LABELS),
        enforcement=enforcement,
    )


def _strings(data: dict[str, Any], key: str, path: Path, default: tuple[str, ...]) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"gate config {path}: {key} must be a list of non-empty strings")
    return tuple(value)
