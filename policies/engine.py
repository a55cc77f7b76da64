"""Evaluate rules over objects: one pass per object for object and pod rules, then stack rules.

Usage::

    findings = evaluate(objects, GateConfig(), ALL_RULES)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.config import GateConfig
from policies.k8s import POD_KINDS, PodView
from policies.model import Enforcement, Finding, Rule, SourceObject, Violation


def active_rules(rules: Iterable[Rule], config: GateConfig) -> list[tuple[Rule, Enforcement]]:
    chosen: list[tuple[Rule, Enforcement]] = []
    for rule in rules:
        enforcement = config.enforcement.get(rule.id, rule.enforcement)
        if enforcement is not Enforcement.DISABLED:
            chosen.append((rule, enforcement))
    return chosen


def evaluate(objects: Sequence[SourceObject], config: GateConfig, rules: Iterable[Rule]) -> list[Finding]:
    chosen = active_rules(rules, config)
    object_rules = [(r, e) for r, e in chosen if r.check is not None]
    pod_rules = [(r, e) for r, e in chosen if r.pod_check is not None]
    stack_rules = [(r, e) for r, e in chosen if r.stack_check is not None]
    findings: list[Finding] = []

    def add(rule: Rule, enforcement: Enforcement, source: SourceObject, violation: Violation) -> None:
        findings.append(Finding(rule, source, violation, enforcement, controls=rule.controls_for(violation)))

    for source in objects:
        obj, kind = source.obj, source.kind
        for rule, enforcement in object_rules:
            if rule.kinds is None or kind in rule.kinds:
                for violation in rule.check(obj, config):  # type: ignore[misc]
                    add(rule, enforcement, source, violation)
        if kind in POD_KINDS:
            pod = PodView.of(obj)
            if pod is None:
                continue
            for rule, enforcement in pod_rules:
                if rule.kinds is None or kind in rule.kinds:
                    for violation in rule.pod_check(pod, config):  # type: ignore[misc]
                        add(rule, enforcement, source, violation)
    object_list = list(objects)
    for rule, enforcement in stack_rules:
        for source, violation in rule.stack_check(object_list, config):  # type: ignore[misc]
            add(rule, enforcement, source, violation)
    return findings
