"""Every rule of the gate, one module per control family. The registry order is the report order."""

from __future__ import annotations

from policies.model import Rule
from policies.rules import network, pod_security, rbac, secrets, serving, workloads

ALL_RULES: tuple[Rule, ...] = (
    *pod_security.RULES,
    *workloads.RULES,
    *network.RULES,
    *rbac.RULES,
    *secrets.RULES,
    *serving.RULES,
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_ID"]
