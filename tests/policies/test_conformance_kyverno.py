"""Agreement with an outside corpus: the Kyverno policy library's expected verdicts (../shared).

Each corpus entry is a verdict for ONE control, so the gate's per-control result is compared (a
finding carrying ``pss:<level>/<control>``), never its overall verdict. Object names give the
answer away (badpod01, goodpod01), so every object is renamed before the gate sees it.
Disagreements must be exactly the ones listed, with the upstream reason, in
policies/conformance/kyverno-disagreements.yaml.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.config import GateConfig
from policies.engine import evaluate
from policies.loader import load_paths
from policies.model import SourceObject
from policies.rules import ALL_RULES
from tests.conftest import PROJECT_DIR

CORPUS = Path(os.environ.get("SLIPWAY_KYVERNO_CORPUS", PROJECT_DIR.parent / "shared" / "conformance" / "kyverno"))
DISAGREEMENTS = PROJECT_DIR / "policies" / "conformance" / "kyverno-disagreements.yaml"
# Best-practice controls with a matching gate rule, and whether the semantics are the same ("same")
# or the gate is deliberately stricter ("stricter": it must fail whatever Kyverno fails).
BEST_PRACTICE_RULES = {
    "resource-limits": ("workload.resource-limits", "same"),
    "read-only-root-filesystem": ("workload.read-only-root-filesystem", "same"),
    "default-namespace": ("workload.default-namespace", "same"),
    "required-labels": ("workload.required-labels", "same"),
    "image-registries": ("workload.image-registries", "same"),
    "service-external-ips": ("network.service-exposure", "same"),
    "service-node-port": ("network.service-exposure", "stricter"),
    "image-pinning": ("workload.image-pinning", "stricter"),
    "probes": ("workload.probes", "stricter"),
    "capabilities-drop-all": ("pod.capabilities", "stricter"),
    "capabilities-drop-net-raw": ("pod.capabilities", "stricter"),
    "container-runtime-socket-mount": ("pod.host-path", "stricter"),
}
# The Kyverno policy settings the best-practice entries depend on, given to the gate the same way.
KYVERNO_SETTINGS = GateConfig(approved_registries=("eu.foo.io", "bar.io"), required_labels=("app.kubernetes.io/name",))

# Outside CI a checkout without ../shared skips; in CI (CI=true) a missing corpus fails the run.
pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir() and not os.environ.get("CI"), reason=f"conformance corpus not found at {CORPUS}"
)


def _entries() -> list[dict[str, Any]]:
    return list(json.loads((CORPUS / "expected.json").read_text())["entries"])


def _anonymous(source: SourceObject, index: int) -> SourceObject:
    obj = copy.deepcopy(source.obj)
    obj["metadata"]["name"] = f"object-{index}"
    return SourceObject(obj, f"manifest-{index}.yaml", source.line)


def _controls(entry: dict[str, Any], index: int, config: GateConfig) -> tuple[set[str], set[str]]:
    """(pss controls, rule ids) the gate reports for the entry's object, name hidden."""
    objects, problems = load_paths([str(CORPUS / entry["file"])])
    assert not problems and len(objects) == 1, (entry["file"], problems)
    findings = evaluate([_anonymous(objects[0], index)], config, ALL_RULES)
    return {c for f in findings for c in f.controls if c.startswith("pss:")}, {f.rule.id for f in findings}


def pss_verdict(entry: dict[str, Any], controls: set[str]) -> str:
    level, control = entry["category"], entry["control"]
    if control == "all-controls":
        # restricted includes baseline; a Kyverno podSecurity rule judges the whole level
        broken = any(c.startswith("pss:baseline/") for c in controls) if level == "baseline" else bool(controls)
    else:
        broken = f"pss:{level}/{control}" in controls
    return "fail" if broken else "pass"


def _pss_results() -> list[tuple[dict[str, Any], str]]:
    results = []
    for index, entry in enumerate(_entries()):
        if entry["category"] in ("baseline", "restricted"):
            controls, _ = _controls(entry, index, GateConfig())
            results.append((entry, pss_verdict(entry, controls)))
    return results


@pytest.fixture(scope="module")
def pss_results() -> list[tuple[dict[str, Any], str]]:
    return _pss_results()


def _comparable(entry: dict[str, Any]) -> bool:
    return not entry["depends_on_kyverno_config"] and not entry.get("upstream_pss_would_differ", False)


def test_pod_security_agreement_is_at_least_99_percent(pss_results: list[tuple[dict[str, Any], str]]) -> None:
    comparable = [(e, ours) for e, ours in pss_results if _comparable(e)]
    agree = sum(1 for e, ours in comparable if ours == e["expected"])
    assert len(comparable) > 800
    assert agree / len(comparable) >= 0.99, f"{agree}/{len(comparable)} comparable Pod Security entries agree"


def test_every_disagreement_is_listed_with_its_reason(pss_results: list[tuple[dict[str, Any], str]]) -> None:
    listed = yaml.safe_load(DISAGREEMENTS.read_text())
    reasons: dict[str, str] = {}
    for group in listed["groups"]:
        assert group["reason"].strip() and group["upstream"].strip(), group["policy"]
        for name in group["entries"]:
            assert name not in reasons, f"{name} listed twice"
            reasons[name] = group["reason"]
    actual = {Path(e["file"]).name: (e["expected"], ours) for e, ours in pss_results if ours != e["expected"]}
    assert set(actual) == set(reasons), (
        f"unlisted: {sorted(set(actual) - set(reasons))}; listed but agreeing: {sorted(set(reasons) - set(actual))}"
    )
    for group in listed["groups"]:
        verdicts = Counter(actual[name] for name in group["entries"])
        assert set(verdicts) == {(group["kyverno"], group["slipway"])}, (group["policy"], verdicts)


def test_best_practice_entries_with_a_matching_rule() -> None:
    same: Counter[bool] = Counter()
    stricter: Counter[bool] = Counter()
    for index, entry in enumerate(_entries()):
        mapped = BEST_PRACTICE_RULES.get(entry["control"])
        if entry["category"] != "best-practices" or mapped is None or entry["expected"] == "skip":
            continue
        rule, relation = mapped
        _, rules = _controls(entry, index, KYVERNO_SETTINGS)
        ours = "fail" if rule in rules else "pass"
        if relation == "same":
            same[ours == entry["expected"]] += 1
            assert ours == entry["expected"], (entry["file"], entry["expected"], ours)
        else:
            stricter[ours == entry["expected"]] += 1
            if entry["expected"] == "fail":
                assert ours == "fail", f"{entry['file']}: Kyverno fails it, the stricter gate must too"
    assert same[True] >= 20 and stricter[True] >= 15
