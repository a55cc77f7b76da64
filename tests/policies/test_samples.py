"""Every rule has allowed and denied samples; the gate and the CrossGuard pack judge them alike."""

from __future__ import annotations

import json
import re

import pytest

from policies.engine import evaluate
from policies.model import SourceObject
from policies.rules import ALL_RULES, RULES_BY_ID
from tests.policies.conftest import ALL_CASES, Analyzer, SampleCase, analyze_objects, load_samples, sample_config

AT_PATH = re.compile(r"\(at (.+?)\) \[")


def _gate(case: SampleCase) -> list[tuple[str, str, list[str]]]:
    sources = [SourceObject(obj, "sample.yaml", i + 1) for i, obj in enumerate(case.objects)]
    findings = evaluate(sources, sample_config(case.config), [RULES_BY_ID[case.rule]])
    return [(f.source.file + str(f.source.line), f.violation.path, f.controls) for f in findings]


def test_every_rule_has_allowed_and_denied_samples() -> None:
    samples = load_samples()
    missing = []
    for rule in ALL_RULES:
        expects = {case.expect for case in samples.get(rule.id, [])}
        if expects != {"allow", "deny"}:
            missing.append(f"{rule.id} (has {sorted(expects) or 'none'})")
    assert not missing, "rules without allowed and denied samples: " + ", ".join(missing)
    assert set(samples) <= set(RULES_BY_ID), "samples for unknown rules"


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_sample_verdict(case: SampleCase) -> None:
    found = _gate(case)
    if case.expect == "allow":
        assert found == [], f"{case.id}: expected no finding, got {found}"
        return
    assert found, f"{case.id}: expected a finding"
    if case.paths is not None:
        assert sorted(path for _, path, _ in found) == sorted(case.paths)
    if case.controls is not None:
        controls = {c for _, _, cs in found for c in cs}
        assert set(case.controls) <= controls, f"{case.id}: {controls}"
        listed_pss = {c for c in case.controls if c.startswith("pss:")}
        if listed_pss:
            assert {c for c in controls if c.startswith("pss:")} == listed_pss, f"{case.id}: levels {controls}"


@pytest.mark.slow
def test_crossguard_pack_agrees_with_the_gate_on_every_sample(analyzer: Analyzer) -> None:
    disagreements = []
    for config in sorted({json.dumps(c.config, sort_keys=True) for c in ALL_CASES}):
        analyzer.configure(json.loads(config))
        for case in (c for c in ALL_CASES if json.dumps(c.config, sort_keys=True) == config):
            pack = sorted(
                match[1]
                for policy, _, message in analyze_objects(analyzer, case.objects)
                if policy == case.rule and (match := AT_PATH.search(message))
            )
            gate = sorted(path for _, path, _ in _gate(case))
            if pack != gate:
                disagreements.append(f"{case.id}: pack {pack} != gate {gate}")
    analyzer.configure({})
    assert not disagreements, "\n".join(disagreements)
