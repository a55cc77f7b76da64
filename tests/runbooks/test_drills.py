"""Drills end to end: real processes, a real Prometheus and Alertmanager, a webhook receiver."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from runbooks.catalog import load_catalog
from runbooks.drills.library import DRILLS
from runbooks.drills.rules import drill_rules, scale_window
from runbooks.generate import RUNBOOKS
from tests.conftest import SLIPWAY


def test_the_drill_rules_scale_waits_and_windows_together() -> None:
    assert scale_window("rate(x[1h]) / rate(y[15m]) + increase(z[24h])", 600) == (
        "rate(x[6s]) / rate(y[5s]) + increase(z[144s])"  # 15m/600 = 1.5 s is raised to the 5 s floor
    )
    rules = {r["alert"]: r for r in drill_rules()["groups"][0]["rules"]}
    assert rules["AuditAccuracyLow"]["for"] == "3s" and rules["AuditAccuracyLow"]["keep_firing_for"] == "6s"
    assert rules["Watchdog"]["expr"] == "vector(1)"


def test_every_drill_is_the_one_its_failure_mode_names() -> None:
    modes = {m.alert: m for m in load_catalog().failure_modes}
    for name, drill in DRILLS.items():
        assert modes[drill.alert].drill == name, name


def test_every_failure_mode_of_the_catalog_has_its_drill() -> None:
    missing = {m.alert: m.drill for m in load_catalog().failure_modes if m.drill not in DRILLS}
    assert not missing, f"failure modes name drills that do not exist: {missing}"


def test_every_drill_exercises_an_alert_or_its_signal() -> None:
    rules = {r["alert"] for g in drill_rules()["groups"] for r in g["rules"]}
    for mode in load_catalog().failure_modes:
        drill = DRILLS[mode.drill]
        if mode.expr:  # an alerting mode: the drill waits for it at Alertmanager's webhook
            assert not drill.signal and mode.alert in rules, mode.alert
        else:  # a CI signal (PolicyGateFailed): the drill checks the signal itself
            assert drill.signal, mode.alert


def test_each_drill_applies_a_mitigation_step_of_its_runbook() -> None:
    catalog = load_catalog()
    for mode in catalog.failure_modes:
        drill = DRILLS[mode.drill]
        if drill.mitigate is None:
            assert drill.step is None and mode.alert == "Watchdog"
            continue
        assert drill.step is not None and 0 <= drill.step < len(mode.mitigation), mode.alert
        page = (RUNBOOKS / mode.component / f"{mode.alert}.md").read_text(encoding="utf-8")
        assert drill.mitigation == mode.mitigation[drill.step] and drill.mitigation.strip() in page, mode.alert


@pytest.mark.slow
def test_every_drill_fires_through_alertmanager_and_resolves_after_the_mitigation(tmp_path: Path) -> None:
    result = subprocess.run(
        [SLIPWAY, "drill", "run", "--all", "--jobs", "3", "--workdir", str(tmp_path / "w"),
         "--json", str(tmp_path / "drills.json"), "--junit", str(tmp_path / "drills.xml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    records = {r["drill"]: r for r in json.loads((tmp_path / "drills.json").read_text())}
    failed = {name: (r["error"], r["notifications"], r["seconds"]) for name, r in records.items() if not r["passed"]}
    assert result.returncode == 0 and not failed, failed
    assert set(records) == set(DRILLS)
    for record in records.values():
        assert record["passed"] and record["fired_after"] is not None
        assert record["notification"]["annotations"]["summary"]
        assert (record["resolved_after"] is None) == (record["drill"] == "watchdog")  # all but Watchdog resolve
        assert record["mitigation"] == DRILLS[record["drill"]].mitigation
        if record["drill"] not in ("watchdog", "commit-insecure-manifest"):  # the last word is a lasting resolution
            statuses = [n["status"] for n in record["notifications"]]
            assert statuses[0] == "firing" and statuses[-1] == "resolved", record["drill"]
    assert records["commit-insecure-manifest"]["notification"]["labels"]["exit_code"] == "1"
    assert records["kill-model-server"]["resolved_after"] is not None
    assert records["kill-model-server"]["notification"]["annotations"]["runbook_url"].endswith(
        "/model-server/ModelServerDown.md"
    )
    assert records["reject-candidate"]["notification"]["labels"]["severity"] == "warning"
    suite = ET.parse(tmp_path / "drills.xml").getroot()
    assert suite.get("tests") == str(len(DRILLS)) and suite.get("failures") == "0"


@pytest.mark.slow
def test_a_relative_workdir_works_as_make_demo_gives_it(tmp_path: Path) -> None:
    result = subprocess.run([SLIPWAY, "drill", "run", "watchdog", "--workdir", "drills"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]


def test_an_unknown_drill_is_a_clear_error() -> None:
    result = subprocess.run([SLIPWAY, "drill", "run", "no-such-drill"], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "no drill no-such-drill" in result.stderr and "Traceback" not in result.stderr
