"""The failure-mode catalog (``runbooks/catalog.yaml``), validated before anything is generated.

YAML rather than a Python module because the people who add and correct failure modes are on-call
staff and reviewers as much as developers: prose with lists reads and diffs better as YAML, while
this typed model still rejects a missing section, an unknown owner or component, a template that
Prometheus would not render, or an alert without its promtool test cases.

Usage::

    catalog = load_catalog()            # runbooks/catalog.yaml next to this module
    catalog.failure_modes[0].alert      # "ModelServerDown"
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from slipway.errors import UsageError
from slipway.yamlfiles import read_yaml

CATALOG = Path(__file__).resolve().parent / "catalog.yaml"
TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Series(_Strict):
    series: str = Field(min_length=1, description="a PromQL series selector with all its labels")
    values: str = Field(min_length=1, description="promtool expanding notation, e.g. '0+10x30'")


class Case(_Strict):
    series: list[Series] = Field(default_factory=list, description="input series; none for an alert that always fires")
    at: str = Field(pattern=DURATION, description="evaluation time, e.g. 10m")
    labels: dict[str, str] = Field(default_factory=dict, description="labels the alert carries from its expression")


class AlertTests(_Strict):
    fires: Case
    quiet: Case | None = Field(None, description="omitted only for an alert that always fires (expr vector(1))")


class Component(_Strict):
    what: str
    runs: str
    owner: str


class Procedure(_Strict):
    title: str
    when: str
    steps: list[str] = Field(min_length=1)


class FailureMode(_Strict):
    alert: str = Field(pattern=r"^[A-Z][A-Za-z0-9]+$")
    component: str
    severity: Literal["critical", "warning", "info"]
    owner: str
    drill: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="the drill that rehearses this failure")
    expr: str | None = None
    for_: str | None = Field(None, alias="for", pattern=DURATION)
    keep_firing_for: str | None = Field(None, pattern=DURATION, description="hysteresis: firing this long after")
    signal: str | None = Field(None, description="how a failure without an alert shows itself (e.g. in CI)")
    summary: str
    description: str
    meaning: str
    impact: str
    diagnosis: list[str] = Field(min_length=1)
    mitigation: list[str] = Field(min_length=1)
    escalation: str
    verification: str
    tests: AlertTests | None = None

    @model_validator(mode="after")
    def _alert_or_signal(self) -> FailureMode:
        if (self.expr is None) == (self.signal is None):
            raise ValueError("give either expr (an alert) or signal (a failure seen elsewhere), not both")
        if self.expr is not None and (self.for_ is None or self.tests is None):
            raise ValueError("an alert needs `for` and `tests` (fires + quiet)")
        if self.tests is not None and self.tests.quiet is None and (self.expr or "").strip() != "vector(1)":
            raise ValueError("an alert needs a quiet test case unless it always fires (expr: vector(1))")
        if self.tests is not None:
            for text in (self.summary, self.description):
                for label in TEMPLATE.findall(text):
                    if label not in self.tests.fires.labels:
                        raise ValueError(f"annotation uses $labels.{label}, which tests.fires.labels does not give")
        for text in (self.summary, self.description):
            if "{{" in TEMPLATE.sub("", text):
                raise ValueError("annotations may only use {{ $labels.NAME }} templates")
        return self

    @property
    def is_alert(self) -> bool:
        return self.expr is not None


class Catalog(_Strict):
    runbook_url: str = Field(description="pattern with {component} and {alert}")
    rule_group: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    owners: dict[str, str] = Field(min_length=1)
    components: dict[str, Component] = Field(min_length=1)
    procedures: list[Procedure] = Field(min_length=1)
    failure_modes: list[FailureMode] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> Catalog:
        if "{component}" not in self.runbook_url or "{alert}" not in self.runbook_url:
            raise ValueError("runbook_url must contain {component} and {alert}")
        names = [m.alert for m in self.failure_modes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"alert names must be unique; repeated: {repeated}")
        for name, component in self.components.items():
            if component.owner not in self.owners:
                raise ValueError(f"component {name}: owner {component.owner!r} is not in owners")
        for mode in self.failure_modes:
            if mode.component not in self.components:
                raise ValueError(f"{mode.alert}: component {mode.component!r} is not in components")
            if mode.owner not in self.owners:
                raise ValueError(f"{mode.alert}: owner {mode.owner!r} is not in owners")
        return self

    def url(self, mode: FailureMode) -> str:
        return self.runbook_url.format(component=mode.component, alert=mode.alert)

    @property
    def alerts(self) -> list[FailureMode]:
        return [m for m in self.failure_modes if m.is_alert]


def load_catalog(path: Path = CATALOG) -> Catalog:
    data = read_yaml(path, "catalog")
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = _where(data, error["loc"])
            problems.append(f"{where}: {re.sub(r'^Value error, ', '', str(error['msg']))}")
        raise UsageError(f"catalog {path}: " + "; ".join(problems)) from None


def _where(data: object, location: tuple[int | str, ...]) -> str:
    """``failure_modes.3.tests`` → ``failure_modes[ModelServerDown].tests`` (names instead of indices)."""
    parts: list[str] = []
    node = data
    for key in location:
        if isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
            name = node.get("alert") or node.get("title") if isinstance(node, dict) else None
            parts[-1] += f"[{name or key}]"
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "<catalog>"
