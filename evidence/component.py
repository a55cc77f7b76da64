"""The OSCAL component definition of the kit: its components (``evidence/components.yaml``) and,
per control, the rules or mechanisms that implement it. The policy gate's controls come from the
rules' own mappings (``policies/rules/``), so the document cannot drift from what the gate checks.

Usage::

    document = component_definition(load_components(), Catalog.load(), when)
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evidence.catalog import CATALOGS, Catalog
from evidence.ids import stable_uuid

COMPONENTS = Path(__file__).resolve().parent / "components.yaml"
OSCAL_VERSION = "1.2.3"
NS = "https://slipway.dev/ns/oscal"


@dataclass(frozen=True)
class Mechanism:
    control: str  # catalog id, "ac-6"
    how: str
    check: str | None


@dataclass(frozen=True)
class Component:
    id: str
    title: str
    description: str
    implements: tuple[Mechanism, ...]


@dataclass(frozen=True)
class KitComponents:
    components: tuple[Component, ...]
    outside_baselines: dict[str, str]  # control id -> why it is mapped though no baseline selects it


def load_components(catalog: Catalog, path: Path = COMPONENTS) -> KitComponents:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    reasons = {str(k): str(v) for k, v in (data.get("outside_baselines") or {}).items()}
    components = []
    for item in data["components"]:
        mechanisms = tuple(Mechanism(_control(catalog, m["control"], reasons), m["how"], m.get("check"))
                           for m in item["implements"])  # fmt: skip
        components.append(Component(item["id"], item["title"], item["description"], mechanisms))
    return KitComponents(tuple(components), reasons)


def _control(catalog: Catalog, mapping: str, reasons: dict[str, str]) -> str:
    try:
        return catalog.control(mapping)
    except KeyError:
        control = mapping.split(":", 1)[1].lower().replace("(", ".").rstrip(")")
        if control in reasons:
            return control
        raise


def rule_controls(catalog: Catalog, reasons: dict[str, str]) -> dict[str, list[Any]]:
    """Control id -> the gate's rules mapped to it."""
    from policies.rules import ALL_RULES

    by_control: dict[str, list[Any]] = defaultdict(list)
    for rule in ALL_RULES:
        for mapping in rule.controls:
            if mapping.startswith("nist-800-53:"):
                by_control[_control(catalog, mapping, reasons)].append(rule)
    return dict(by_control)


def timestamp(when: datetime.datetime) -> str:
    return when.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def metadata(title: str, when: datetime.datetime, version: str) -> dict[str, Any]:
    return {"title": title, "last-modified": timestamp(when), "version": version, "oscal-version": OSCAL_VERSION}


def catalog_resources(catalog: Catalog) -> list[dict[str, Any]]:
    """Back-matter resources for the catalogs the control ids come from: the two baselines (copied
    into the evidence folder as ``reference/<file>``, hash-pinned) and the full SP 800-53 catalog for
    the controls outside them."""
    resources: list[dict[str, Any]] = []
    for baseline, name in sorted(catalog.sources.items()):
        resources.append({"uuid": stable_uuid("catalog", baseline),
                          "title": f"NIST SP 800-53 rev 5 {baseline} baseline (resolved profile catalog)",
                          "rlinks": [{"href": f"reference/{name}", "media-type": "application/json",
                                      "hashes": [{"algorithm": "SHA-256", "value": CATALOGS[name]}]}]})  # fmt: skip
    resources.append({"uuid": stable_uuid("catalog", "OUTSIDE"),
                      "title": "NIST SP 800-53 rev 5 (controls outside the HIGH and PRIVACY baselines)",
                      "citation": {"text": "NIST SP 800-53 Rev. 5, Security and Privacy Controls for Information "
                                           "Systems and Organizations (doi:10.6028/NIST.SP.800-53r5)"},
                      "rlinks": [{"href": "https://doi.org/10.6028/NIST.SP.800-53r5"}]})  # fmt: skip
    return resources


def component_definition(kit: KitComponents, catalog: Catalog, when: datetime.datetime, version: str) -> dict[str, Any]:
    rules = rule_controls(catalog, kit.outside_baselines)
    components = []
    for component in kit.components:
        merged: dict[str, tuple[list[str], set[str], list[Any]]] = {}
        for mechanism in component.implements:
            hows, checks, _ = merged.setdefault(mechanism.control, ([], set(), []))
            hows.append(mechanism.how)
            checks.add(mechanism.check or "none")
        if component.id == "policy-gate":
            for control, mapped in rules.items():
                hows, checks, rule_list = merged.setdefault(control, ([], set(), []))
                hows.append("Checked by the gate's rules: " + "; ".join(f"{r.id} ({r.title})" for r in mapped))
                checks.add("gate")
                rule_list.extend(mapped)
        by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for control, (hows, checks, rule_list) in sorted(merged.items()):
            requirement = _requirement(component.id, control, " ".join(hows), checks - {"none"} or {"none"}, rule_list)
            by_source[_source(catalog, control)].append(requirement)
        implementations = [
            {"uuid": stable_uuid("component", component.id, source), "source": f"#{stable_uuid('catalog', source)}",
             "description": _source_description(component.title, source, kit), "implemented-requirements": reqs}
            for source, reqs in sorted(by_source.items())
        ]  # fmt: skip
        components.append({"uuid": stable_uuid("component", component.id), "type": "software",
                           "title": component.title, "description": component.description,
                           "control-implementations": implementations})  # fmt: skip
    return {"component-definition": {
        "uuid": stable_uuid("component-definition", version),
        "metadata": metadata("slipway: components and the controls they implement", when, version),
        "components": components,
        "back-matter": {"resources": catalog_resources(catalog)},
    }}  # fmt: skip


def _source_description(title: str, source: str, kit: KitComponents) -> str:
    if source != "OUTSIDE":
        return f"{title}: controls of the SP 800-53 rev 5 {source} baseline"
    reasons = "; ".join(f"{control}: {why}" for control, why in sorted(kit.outside_baselines.items()))
    return f"{title}: controls outside the HIGH and PRIVACY baselines, mapped because {reasons}"


def _source(catalog: Catalog, control: str) -> str:
    known = catalog.controls.get(control)
    if known is None:
        return "OUTSIDE"
    return "HIGH" if "HIGH" in known.baselines else "PRIVACY"


def _requirement(component: str, control: str, how: str, checks: set[str], rules: list[Any]) -> dict[str, Any]:
    props = [{"name": "check", "ns": NS, "value": check} for check in sorted(checks)]
    props += [{"name": "rule", "ns": NS, "value": rule_id} for rule_id in sorted({rule.id for rule in rules})]
    return {"uuid": stable_uuid("requirement", component, control), "control-id": control, "description": how,
            "props": props}  # fmt: skip
