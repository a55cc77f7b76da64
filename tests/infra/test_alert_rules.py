"""The alert rules the catalog generates are deployed as one PrometheusRule, exactly as promtool tested them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.components.alert_rules import RULES_FILE, load_rule_groups
from slipway.errors import UsageError
from tests.infra.conftest import RenderFn, of_kind


def test_the_prometheus_operator_gets_the_generated_rules_verbatim(render: RenderFn) -> None:
    (rule,) = of_kind(render("prod"), "PrometheusRule")
    assert rule["metadata"]["namespace"] == "ml-serving"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES_FILE.read_text())["groups"]
    alerts = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert alerts and all(r["annotations"]["runbook_url"] for r in alerts)


def test_no_prometheus_rule_without_the_operator(render: RenderFn) -> None:
    assert of_kind(render("dev"), "PrometheusRule") == []


def test_missing_or_empty_rules_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="run `slipway runbooks`"):
        load_rule_groups(tmp_path / "absent.yaml")
    (tmp_path / "empty.yaml").write_text("groups: []\n")
    with pytest.raises(UsageError, match="no rule groups"):
        load_rule_groups(tmp_path / "empty.yaml")
