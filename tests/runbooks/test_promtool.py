"""The generated rules through the real promtool: syntax, and a fire + a stay-quiet unit test per alert."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from runbooks.catalog import load_catalog
from runbooks.generate import RULE_TESTS, RULES, RUNBOOKS


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("promtool")
    assert executable, "promtool is missing: `make test` installs Debian's prometheus package (apt-get)"
    return subprocess.run([executable, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name, cwd=RUNBOOKS / RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_catalog().alerts)} rules found" in result.stdout


def test_every_alert_fires_with_its_labels_and_annotations_and_stays_quiet_otherwise() -> None:
    tests = yaml.safe_load((RUNBOOKS / RULE_TESTS).read_text())["tests"]
    for alert in load_catalog().alerts:
        cases = {t["name"]: t for t in tests if t["alert_rule_test"][0]["alertname"] == alert.alert}
        always = alert.expr is not None and alert.expr.strip() == "vector(1)"  # Watchdog: no quiet case
        assert set(cases) == {f"{alert.alert} fires"} | (set() if always else {f"{alert.alert} stays quiet"})
        (expected,) = cases[f"{alert.alert} fires"]["alert_rule_test"][0]["exp_alerts"]
        assert expected["exp_annotations"]["runbook_url"].endswith(f"/{alert.component}/{alert.alert}.md")
        if not always:
            assert cases[f"{alert.alert} stays quiet"]["alert_rule_test"][0]["exp_alerts"] == []
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=RUNBOOKS / RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "by", "alert"),
    [
        ("> 0.30", "> 0.50", "LowConfidenceSpike"),  # a threshold nobody reaches
        ("max by (feature) (slipway_feature_psi)", "max(slipway_feature_psi)", "FeatureDrift"),  # label lost
        ("/runbooks/pipeline/DataStale.md", "/runbooks/pipeline/Stale.md", "DataStale"),  # annotation changed
    ],
)
def test_the_unit_tests_catch_a_broken_rule(tmp_path: Path, change: str, by: str, alert: str) -> None:
    shutil.copytree(RUNBOOKS / RULES.parent, tmp_path / "alerts")
    rules = tmp_path / "alerts" / RULES.name
    assert change in rules.read_text()
    rules.write_text(rules.read_text().replace(change, by, 1))
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path / "alerts")
    assert result.returncode != 0 and f"alertname: {alert}" in result.stdout + result.stderr
