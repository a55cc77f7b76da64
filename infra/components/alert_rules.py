"""AlertRules: the alert rules generated from the failure-mode catalog, as one PrometheusRule.

The rules come from ``runbooks/alerts/slipway.rules.yaml`` (written by ``slipway runbooks``), so
what is deployed is exactly what promtool tested and what the runbook pages describe. Created only
when the cluster runs the Prometheus operator (``slipway:prometheusOperator``); otherwise the file
is loaded into Prometheus's ``rule_files``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi_kubernetes import apiextensions

from infra.components import hardening
from slipway.errors import UsageError

RULES_FILE = Path(__file__).resolve().parents[2] / "runbooks" / "alerts" / "slipway.rules.yaml"


@dataclass(frozen=True)
class AlertRulesArgs:
    namespace: str
    owner: str
    data_classification: str
    rules_file: Path = RULES_FILE


def load_rule_groups(path: Path) -> list[dict[str, Any]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read alert rules {path}: {exc.strerror} (run `slipway runbooks`)") from None
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, list) or not groups:
        raise UsageError(f"{path} has no rule groups (run `slipway runbooks`)")
    return groups


class AlertRules(pulumi.ComponentResource):
    def __init__(self, resource_name: str, args: AlertRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slipway:monitoring:AlertRules", resource_name, None, opts)
        labels = hardening.standard_labels(
            "slipway-alerts", "alert-rules", owner=args.owner, classification=args.data_classification
        )
        apiextensions.CustomResource(
            f"{args.namespace}-slipway-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "slipway-alerts", "namespace": args.namespace, "labels": labels},
            spec={"groups": load_rule_groups(args.rules_file)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
