"""The evidence package of a stack, written and checked: the OSCAL documents, the reports and files
they rest on, the SBOM, and the signed statement over all of them.

Usage::

    summary = write_package("dev", Path("build/evidence"), project_dir, drills=None)
    summary = verify_package(Path("build/evidence"), public_key)
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from evidence.catalog import CATALOGS, REFERENCE, Catalog
from evidence.checks import IMAGE_SBOM, audit_check, drills_check, gate_check, kit_version, model_check, sbom_check
from evidence.component import component_definition, load_components
from evidence.ids import stable_uuid
from evidence.inventory import pinned_assets
from evidence.poam import plan_of_action
from evidence.results import assessment_results
from evidence.sbom import sbom_problems
from evidence.ssp import assessment_plan, system_security_plan
from evidence.statement import verify_envelope, write_envelope
from evidence.validate import (
    catalog_problems,
    defined_uuids,
    reference_problems,
    schema_problems,
    timestamp_problems,
)
from slipway.errors import SlipwayError, UsageError

DOCUMENTS = {  # file -> the files whose UUIDs it may point at (its imports)
    "component-definition.json": (),
    "system-security-plan.json": (),
    "assessment-plan.json": ("system-security-plan.json",),
    "assessment-results.json": ("assessment-plan.json", "system-security-plan.json"),
    "plan-of-action-and-milestones.json": ("system-security-plan.json",),
}
MARKER = "statement.dsse.json"
SUBJECTS = {
    "gate": ("this-system", "policy-gate", "baseline"),
    "audit-reviews": ("review",),
    "audit-promotions": ("model-loop",),
    "audit-exemptions": ("policy-gate",),
    "model-signature": ("model-server",),
    "drills": ("monitoring",),
    "sbom": ("supply-chain",),
}


class EvidenceInvalid(SlipwayError):
    exit_code = 1


def document_problems(folder: Path) -> list[str]:
    """Every OSCAL document against the schema, its references (through its imports), the catalog
    and time zones; the SBOM against CycloneDX 1.6."""
    catalog = Catalog.load()
    reasons = load_components(catalog).outside_baselines
    loaded = {name: json.loads((folder / name).read_text(encoding="utf-8")) for name in DOCUMENTS}
    problems = []
    for name, imports in DOCUMENTS.items():
        imported = set().union(*(defined_uuids(loaded[i]) for i in imports)) if imports else set()
        for problem in (
            *schema_problems(loaded[name]),
            *reference_problems(loaded[name], imported),
            *catalog_problems(loaded[name], catalog, reasons),
            *timestamp_problems(loaded[name]),
        ):
            problems.append(f"{name}{problem}")
    for sbom in ("sbom.cdx.json", IMAGE_SBOM):
        if sbom == "sbom.cdx.json" or (folder / sbom).exists():
            problems += [f"{sbom}{p}" for p in sbom_problems(json.loads((folder / sbom).read_text(encoding="utf-8")))]
    return problems


def summarize(results: dict[str, Any], poam: dict[str, Any]) -> dict[str, Any]:
    (result,) = results["assessment-results"]["results"]
    states = [f["target"]["status"]["state"] for f in result["findings"]]
    not_assessed = [
        p["value"] for o in result["observations"] for p in o.get("props", []) if p["name"] == "not-assessed"
    ]
    risks = poam["plan-of-action-and-milestones"].get("risks", [])
    return {
        "satisfied": states.count("satisfied"),
        "not_satisfied": states.count("not-satisfied"),
        "not_assessed": len(not_assessed),
        "open_items": sum(r["status"] == "open" for r in risks),
        "exemptions": sum(r["status"] == "deviation-approved" for r in risks),
    }


def write_package(
    stack: str,
    out: Path,
    project: Path,
    *,
    drills: Path | None = None,
    exemptions_file: Path | None = None,
    image: str | None = None,
    when: datetime.datetime | None = None,
) -> dict[str, Any]:
    """``image``: the model-server image to describe (default: the stack's pinned one, if built here)."""
    from evidence.image_sbom import find_image
    from infra.render import stack_config
    from slipway.signing import KeyStore

    when = (when or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
    keys = KeyStore.default()
    keys.signing_fingerprint()  # no key: a clear error before anything is written
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UsageError(f"refusing to replace {out}: it exists and is not an evidence folder")
    config = stack_config(project, stack)
    examined = find_image(config, image)
    pinned = pinned_assets(config, examined.reference if examined else None)
    catalog = Catalog.load()
    kit = load_components(catalog)
    version = kit_version()
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.resolve().parent))
    try:
        (staging / "reference").mkdir()
        for name in CATALOGS:
            shutil.copyfile(REFERENCE / name, staging / "reference" / name)
        ssp = system_security_plan(stack, config, kit, catalog, when, version)
        plan = assessment_plan(stack, ssp, "system-security-plan.json", when, version)
        subjects = {check: tuple(stable_uuid("ssp", stack, c) for c in names) for check, names in SUBJECTS.items()}
        gate, exemptions, rendered = gate_check(
            stack, project, staging, catalog, kit, subjects["gate"], when, exemptions_file, tuple(a.key for a in pinned)
        )
        checks = [
            gate,
            *(
                audit_check(name, staging, kit, subjects[f"audit-{name}"], when)
                for name in ("reviews", "promotions", "exemptions")
            ),
            model_check(config, staging, kit, subjects["model-signature"], when),
            drills_check(drills, staging, kit, subjects["drills"], when),
            sbom_check(project, staging, kit, subjects["sbom"], when, examined),
        ]
        results = assessment_results(
            stack, plan, "assessment-plan.json", checks, exemptions, kit, catalog, when, version, [*rendered, *pinned]
        )
        poam = plan_of_action(stack, "system-security-plan.json", checks, exemptions, catalog, when, version)
        for name, document in (
            ("component-definition.json", component_definition(kit, catalog, when, version)),
            ("system-security-plan.json", ssp),
            ("assessment-plan.json", plan),
            ("assessment-results.json", results),
            ("plan-of-action-and-milestones.json", poam),
        ):
            (staging / name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        problems = document_problems(staging)
        if problems:  # valid by construction: anything else is a defect of the kit, said plainly
            raise EvidenceInvalid(f"the evidence for {stack} does not validate: {'; '.join(problems[:5])}")
        summary = {"stack": stack, "created": when.isoformat(), **summarize(results, poam)}
        write_envelope(staging, keys, summary)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def verify_package(folder: Path, public_key: Path) -> dict[str, Any]:
    from evidence.statement import EvidenceTampered

    statement = verify_envelope(folder, public_key)
    missing = [name for name in (*DOCUMENTS, "sbom.cdx.json") if not (folder / name).is_file()]
    if missing:
        raise EvidenceTampered(f"the package lacks {', '.join(missing)}")
    problems = document_problems(folder)
    if problems:
        raise EvidenceInvalid(f"{len(problems)} problems: {'; '.join(problems[:5])}")
    summary: dict[str, Any] = statement["predicate"]
    return {
        **summary,
        "files": len(statement["subject"]),
        "signed_by": json.loads((folder / MARKER).read_text())["signatures"][0]["keyid"],
    }
