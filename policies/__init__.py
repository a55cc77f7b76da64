"""Policy as code: one rule set for `slipway gate` (CI) and the CrossGuard pack (`pulumi preview`)."""

from policies.config import GateConfig
from policies.engine import evaluate
from policies.model import Enforcement, Finding, Rule, Severity, SourceObject, Violation
from policies.rules import ALL_RULES, RULES_BY_ID

__all__ = [
    "ALL_RULES",
    "RULES_BY_ID",
    "Enforcement",
    "Finding",
    "GateConfig",
    "Rule",
    "Severity",
    "SourceObject",
    "Violation",
    "evaluate",
]
