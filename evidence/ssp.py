"""A minimal OSCAL system security plan for one stack, and the assessment plan that imports it.

The SSP names the system (the stack: its namespace, owner and data classification from
``Pulumi.<stack>.yaml``), its components (the kit's, as in the component definition) and, per control
the kit implements, which component does it. The assessment plan reviews exactly those controls with
the kit's automated checks as its assessment method; the assessment results import it.

Usage::

    ssp = system_security_plan(stack, config, kit, catalog, when, version)
    plan = assessment_plan(stack, ssp, "system-security-plan.json", when, version)
"""

from __future__ import annotations

import datetime
from typing import Any

from evidence.catalog import Catalog
from evidence.component import KitComponents, catalog_resources, metadata, rule_controls
from evidence.ids import stable_uuid

IMPACT = {"public": "fips-199-low", "internal": "fips-199-moderate", "confidential": "fips-199-high",
          "restricted": "fips-199-high"}  # fmt: skip


def controls_by_component(kit: KitComponents, catalog: Catalog) -> dict[str, dict[str, list[str]]]:
    """Control id -> component id -> how (the gate's rules count for the policy gate)."""
    by_control: dict[str, dict[str, list[str]]] = {}
    for component in kit.components:
        for mechanism in component.implements:
            by_control.setdefault(mechanism.control, {}).setdefault(component.id, []).append(mechanism.how)
    for control, rules in rule_controls(catalog, kit.outside_baselines).items():
        how = "The gate's rules " + ", ".join(sorted({r.id for r in rules})) + " check it."
        by_control.setdefault(control, {}).setdefault("policy-gate", []).append(how)
    return dict(sorted(by_control.items()))


def system_security_plan(
    stack: str,
    config: dict[str, Any],
    kit: KitComponents,
    catalog: Catalog,
    when: datetime.datetime,
    version: str,
) -> dict[str, Any]:
    namespace = str(config.get("slipway:namespace", stack))
    owner = str(config.get("slipway:owner", "unknown"))
    impact = IMPACT.get(str(config.get("slipway:dataClassification", "confidential")), "fips-199-high")
    system = stable_uuid("ssp", stack, "this-system")
    components = [{"uuid": system, "type": "this-system", "title": f"slipway stack {stack}",
                   "description": f"The model service and its baseline in namespace {namespace}, owned by {owner}.",
                   "status": {"state": "operational"}}]  # fmt: skip
    components += [{"uuid": stable_uuid("ssp", stack, c.id), "type": "software", "title": c.title,
                    "description": c.description, "status": {"state": "operational"}}
                   for c in kit.components]  # fmt: skip
    titles = {c.id: c.title for c in kit.components}
    requirements = []
    for control, components_how in controls_by_component(kit, catalog).items():
        requirements.append({
            "uuid": stable_uuid("ssp", stack, "requirement", control), "control-id": control,
            "by-components": [{"component-uuid": stable_uuid("ssp", stack, component),
                               "uuid": stable_uuid("ssp", stack, "by-component", control, component),
                               "description": f"{titles[component]}: " + " ".join(hows),
                               "implementation-status": {"state": "implemented"}}
                              for component, hows in sorted(components_how.items())],
        })  # fmt: skip
    high = next(r for r in catalog_resources(catalog) if "HIGH" in r["title"])
    return {"system-security-plan": {
        "uuid": stable_uuid("system-security-plan", stack, version),
        "metadata": metadata(f"slipway stack {stack}: system security plan", when, version),
        "import-profile": {"href": high["rlinks"][0]["href"],
                           "remarks": "The HIGH baseline's resolved profile catalog (NIST); PRIVACY controls too."},
        "system-characteristics": {
            "system-ids": [{"identifier-type": "https://ietf.org/rfc/rfc4122", "id": system}],
            "system-name": f"slipway-{stack}",
            "description": f"A machine-learning model service deployed by slipway into namespace {namespace}.",
            "system-information": {"information-types": [{
                "uuid": stable_uuid("ssp", stack, "information-type"),
                "title": "Records scored by the model and the people's decisions on them",
                "description": f"Data classified {config.get('slipway:dataClassification', 'unstated')} by the "
                               "stack's owner.",
                "confidentiality-impact": {"base": impact}, "integrity-impact": {"base": impact},
                "availability-impact": {"base": "fips-199-moderate"},
            }]},
            "status": {"state": "operational"},
            "authorization-boundary": {"description": f"The Kubernetes namespace {namespace} on an approved "
                                                      "cluster: everything the stack creates, nothing else."},
        },
        "system-implementation": {"components": components},
        "control-implementation": {
            "description": "Controls implemented by the kit's components; the assessment results say which "
                           "were checked for this stack, and how.",
            "implemented-requirements": requirements,
        },
        "back-matter": {"resources": catalog_resources(catalog)},
    }}  # fmt: skip


def assessment_plan(
    stack: str, ssp: dict[str, Any], ssp_href: str, when: datetime.datetime, version: str
) -> dict[str, Any]:
    plan = ssp["system-security-plan"]
    controls = [r["control-id"] for r in plan["control-implementation"]["implemented-requirements"]]
    subjects = [{"subject-uuid": c["uuid"], "type": "component"} for c in plan["system-implementation"]["components"]]
    return {"assessment-plan": {
        "uuid": stable_uuid("assessment-plan", stack, version),
        "metadata": metadata(f"slipway stack {stack}: assessment plan", when, version),
        "import-ssp": {"href": ssp_href},
        "reviewed-controls": {
            "description": "Every control the kit implements. Automated checks run by `slipway evidence` assess "
                           "those they can; the others are reported as not assessed.",
            "control-selections": [{"include-controls": [{"control-id": c} for c in controls]}],
        },
        "assessment-subjects": [{"type": "component", "include-subjects": subjects}],
    }}  # fmt: skip
