"""Evaluate rules over objects in one streaming pass, then run the cross-object rules.

Object and pod rules see each object once, as it is read. Only what cross-object rules need is
kept (the kinds they declare as ``inputs``, slimmed to the fields they read), and findings keep a
slim reference to their object, so memory grows with findings, not with the size of the input.

Usage::

    evaluator = Evaluator(GateConfig(), ALL_RULES)
    for source in sources:
        evaluator.feed(source)
    findings = evaluator.finish()

    findings = evaluate(objects, GateConfig(), ALL_RULES)     # the same, for a list in memory
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policies.config import GateConfig
from policies.k8s import POD_KINDS, PodView, mapping
from policies.model import Enforcement, Finding, Rule, SourceObject, Violation

# Kinds whose whole pod spec a cross-object rule may need (CronJob: the drift job's command).
KEEP_WHOLE = frozenset({"CronJob"})


def active_rules(rules: Iterable[Rule], config: GateConfig) -> list[tuple[Rule, Enforcement]]:
    chosen: list[tuple[Rule, Enforcement]] = []
    for rule in rules:
        enforcement = config.enforcement.get(rule.id, rule.enforcement)
        if enforcement is not Enforcement.DISABLED:
            chosen.append((rule, enforcement))
    return chosen


def reference(source: SourceObject) -> SourceObject:
    """The identity of an object without its body: what a finding needs to point at it."""
    metadata = mapping(source.obj.get("metadata"))
    slim_metadata = {"name": metadata.get("name")}
    if "namespace" in metadata:
        slim_metadata["namespace"] = metadata["namespace"]
    obj = {"apiVersion": source.obj.get("apiVersion"), "kind": source.obj.get("kind"), "metadata": slim_metadata}
    return SourceObject(obj, source.file, source.line)


def _slim(source: SourceObject) -> SourceObject:
    """What cross-object rules read of a workload: identity, labels, replicas, selector, pod metadata
    and each container's name and env (the review store's setting)."""
    if source.kind not in POD_KINDS or source.kind in KEEP_WHOLE:
        return source
    obj = source.obj
    spec = mapping(obj.get("spec"))
    slim_spec: dict[str, Any] = {k: spec[k] for k in ("replicas", "selector") if k in spec}
    if "template" in spec:
        template = mapping(spec["template"])
        containers = [
            {k: c[k] for k in ("name", "env") if k in c}
            for c in mapping(template.get("spec")).get("containers") or ()
            if isinstance(c, dict)
        ]
        slim_spec["template"] = {"metadata": mapping(template.get("metadata")), "spec": {"containers": containers}}
    slim = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": obj.get("metadata"),
        "spec": slim_spec,
    }
    return SourceObject(slim, source.file, source.line)


class Evaluator:
    def __init__(self, config: GateConfig, rules: Iterable[Rule]) -> None:
        self.config = config
        chosen = active_rules(rules, config)
        self._object_rules = [(r, e) for r, e in chosen if r.check is not None]
        self._pod_rules = [(r, e) for r, e in chosen if r.pod_check is not None]
        self._stack_rules = [(r, e) for r, e in chosen if r.stack_check is not None]
        self._retain = frozenset().union(*(r.inputs or frozenset() for r, _ in self._stack_rules))
        self._retained: list[SourceObject] = []
        self.objects: list[SourceObject] = []
        self.findings: list[Finding] = []

    def _add(self, rule: Rule, enforcement: Enforcement, ref: SourceObject, violation: Violation) -> None:
        self.findings.append(Finding(rule, ref, violation, enforcement, controls=rule.controls_for(violation)))

    def feed(self, source: SourceObject) -> None:
        ref = reference(source)
        self.objects.append(ref)
        obj, kind, config = source.obj, source.kind, self.config
        for rule, enforcement in self._object_rules:
            if rule.kinds is None or kind in rule.kinds:
                for violation in rule.check(obj, config):  # type: ignore[misc]
                    self._add(rule, enforcement, ref, violation)
        if kind in POD_KINDS and (pod := PodView.of(obj)) is not None:
            for rule, enforcement in self._pod_rules:
                if rule.kinds is None or kind in rule.kinds:
                    for violation in rule.pod_check(pod, config):  # type: ignore[misc]
                        self._add(rule, enforcement, ref, violation)
        if kind in self._retain:
            self._retained.append(_slim(source))

    def finish(self) -> list[Finding]:
        for rule, enforcement in self._stack_rules:
            for source, violation in rule.stack_check(self._retained, self.config):  # type: ignore[misc]
                self._add(rule, enforcement, reference(source), violation)
        self._retained = []
        return self.findings


def evaluate(objects: Iterable[SourceObject], config: GateConfig, rules: Iterable[Rule]) -> list[Finding]:
    evaluator = Evaluator(config, rules)
    for source in objects:
        evaluator.feed(source)
    return evaluator.finish()
