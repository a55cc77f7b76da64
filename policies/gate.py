"""`slipway gate`: check manifests against the rule set and report in the format CI needs.

Usage::

    result = run_gate(["build/manifests"], config_path=None, exemptions_path=None)
    print(formatter("text")(result)); sys.exit(result.exit_code)
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from policies.config import load_config
from policies.engine import Evaluator, active_rules
from policies.exemptions import EXEMPTION_RULE, apply_exemptions, load_exemptions
from policies.loader import iter_sources
from policies.model import Enforcement, Finding, InputProblem
from policies.result import GateResult
from policies.rules import ALL_RULES, RULES_BY_ID


def run_gate(
    paths: Sequence[str],
    *,
    config_path: Path | None = None,
    exemptions_path: Path | None = None,
    today: datetime.date | None = None,
    audit: bool = True,
) -> GateResult:
    known = set(RULES_BY_ID)
    config = load_config(config_path, known)
    evaluator = Evaluator(config, ALL_RULES)
    problems: list[InputProblem] = []
    for item in iter_sources(paths):
        if isinstance(item, InputProblem):
            problems.append(item)
        else:
            evaluator.feed(item)
    findings = evaluator.finish()
    objects = evaluator.objects
    rules = active_rules(ALL_RULES, config)
    notes = []
    if not config.approved_registries:
        notes.append("note: workload.image-registries is not checked (no approvedRegistries in --config)")
    if exemptions_path is not None:
        today = today or datetime.datetime.now(datetime.UTC).date()
        exemptions, invalid = load_exemptions(exemptions_path, known, today)
        used = apply_exemptions(findings, exemptions)
        findings.extend(invalid)
        rules.append((EXEMPTION_RULE, Enforcement.MANDATORY))
        if used and audit:
            _audit(used, str(exemptions_path))
    return GateResult(
        objects, findings, problems, rules, config, str(exemptions_path) if exemptions_path else None, notes
    )


def _audit(used: list[Finding], exemptions_file: str) -> None:
    from slipway.audit import AuditTrail

    AuditTrail.for_name("exemptions").append(
        "exemptions.used",
        {
            "file": exemptions_file,
            "uses": [
                {
                    "rule": f.rule.id,
                    "object": f"{f.source.kind}/{f.source.namespace or '-'}/{f.source.name}",
                    "approver": e.approver,
                    "expires": e.expires,
                    "justification": e.justification,
                }
                for f in used
                if (e := f.exemption) is not None
            ],
        },
    )
