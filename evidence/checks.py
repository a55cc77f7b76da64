"""The checks `slipway evidence` runs for a stack, each leaving its report in the evidence folder:

- ``gate``: the stack rendered (the very program `pulumi up` runs, under mocks) and the policy gate on
  every object (JSON and SARIF reports); a control fails when a rule mapped to it has a blocking
  finding, and exempted findings become exemption risks;
- ``audit-reviews``, ``audit-promotions``, ``audit-exemptions``: each hash-chained audit trail verified
  (promotions' signatures too); a trail with no record yet is not assessed;
- ``model-signature``: the stack's pinned model digest and signature verified under its pinned key,
  with the model's card when this machine's model store holds that model;
- ``drills``: the latest drill records (``--drills``), when given;
- ``sbom``: the SBOMs of uv.lock and, when it is built here, of the image, generated and validated.

Usage::

    gate, exemptions, rendered = gate_check(stack, project_dir, folder, catalog, kit, subjects, when)
    audit = audit_check("reviews", folder, kit, subjects, when)
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.catalog import Catalog
from evidence.component import KitComponents
from evidence.inventory import Asset, object_id, rendered_assets
from evidence.results import CheckOutcome, Evidence, ExemptionRisk
from evidence.sbom import sbom_json

if TYPE_CHECKING:
    from evidence.image_sbom import Image

IMAGE_SBOM = "image.cdx.json"
MODEL_CARD = "model-card.json"
VALID_FOR = datetime.timedelta(days=30)  # how long an automated observation is taken to hold
SEVERITY_ORDER = ("low", "medium", "high", "critical")


def kit_version() -> str:
    from importlib.metadata import version

    return version("slipway")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _evidence(folder: Path, relative: str, description: str) -> Evidence:
    return Evidence(relative, _sha256(folder / relative), description)


def _covered(kit: KitComponents, check: str) -> set[str]:
    return {m.control for c in kit.components for m in c.implements if m.check == check}


def _outcome(
    check: str,
    title: str,
    kit: KitComponents,
    when: datetime.datetime,
    *,
    ran: bool,
    passed: bool,
    description: str,
    evidence: tuple[Evidence, ...],
    subjects: tuple[str, ...],
    tool: str | None = None,
    items: tuple[str, ...] = (),
) -> CheckOutcome:
    failed = {} if passed or not ran else {c: f"{check}: {description}" for c in _covered(kit, check)}
    return CheckOutcome(
        check,
        title,
        "TEST",
        tool or f"slipway {kit_version()}",
        ran,
        description,
        when,
        when + VALID_FOR,
        evidence,
        subjects,
        items,
        failed,
    )


def gate_check(
    stack: str,
    project: Path,
    folder: Path,
    catalog: Catalog,
    kit: KitComponents,
    subjects: tuple[str, ...],
    when: datetime.datetime,
    exemptions_file: Path | None = None,
    pinned: tuple[str, ...] = (),
) -> tuple[CheckOutcome, list[ExemptionRisk], list[Asset]]:
    """The gate on the rendered stack; also the rendered objects as assets (``pinned``: the keys of
    the pinned model and image assets the objects reference)."""
    from evidence.component import _control
    from infra.render import render_stack, write_manifests
    from policies.formats import writer
    from policies.gate import run_gate
    from slipway.output import atomic_output

    objects = render_stack(project, stack)
    written = write_manifests(objects, folder / "rendered")
    assets = rendered_assets(objects, {f"rendered/{p.as_posix()}": _sha256(folder / "rendered" / p) for p in written})
    source = None
    if exemptions_file is not None:
        shutil.copyfile(exemptions_file, folder / "exemptions.yaml")
        source = _evidence(folder, "exemptions.yaml", "the exemptions file the gate applied")
    result = run_gate(
        [str(folder / "rendered")],
        config_path=project / "policies" / "gate.yaml",
        exemptions_path=exemptions_file,
        audit=False,
    )
    for name, fmt in (("gate.json", "json"), ("gate.sarif", "sarif")):
        with atomic_output(folder / name) as stream:
            writer(fmt)(result, stream)
    failed: dict[str, list[str]] = {}
    severity: dict[str, str] = {}
    exemptions: dict[tuple[str, str], ExemptionRisk] = {}
    for finding in result.findings:
        controls = sorted(
            {_control(catalog, m, kit.outside_baselines) for m in finding.controls if m.startswith("nist-800-53:")}
        )
        where = object_id(finding.source.kind, finding.source.namespace, finding.source.name)
        if finding.exemption is not None:
            e = finding.exemption
            exemptions[(e.rule, where)] = ExemptionRisk(
                e.rule, where, e.justification, e.approver, e.expires, tuple(controls), source
            )
        elif finding.blocking:
            for control in controls:
                failed.setdefault(control, []).append(f"{finding.rule.id} on {where}")
                level = finding.rule.severity.value
                severity[control] = max(severity.get(control, level), level, key=SEVERITY_ORDER.index)
    description = (
        f"{len(result.objects)} rendered objects of stack {stack}: {result.mandatory} blocking findings, "
        f"{result.exempted} exempted, {len(result.problems)} unusable inputs"
    )
    outcome = CheckOutcome(
        "gate",
        "Policy gate on the rendered stack",
        "TEST",
        f"slipway gate {kit_version()}",
        not result.problems,
        description,
        when,
        when + VALID_FOR,
        (_evidence(folder, "gate.json", "the gate's JSON report"), _evidence(folder, "gate.sarif", "SARIF report")),
        subjects,
        (*(a.key for a in assets), *pinned),
        {c: "blocking findings: " + "; ".join(v[:5]) + (" ..." if len(v) > 5 else "") for c, v in failed.items()},
        severity,
    )
    return outcome, list(exemptions.values()), assets


def audit_check(
    name: str, folder: Path, kit: KitComponents, subjects: tuple[str, ...], when: datetime.datetime
) -> CheckOutcome:
    from slipway.audit import AuditChainBroken, AuditTrail, verify_signed
    from slipway.signing import KeyStore

    trail = AuditTrail.for_name(name)
    report: dict[str, Any] = {"trail": name}
    try:
        report["records"] = trail.verify()
        if name == "promotions" and report["records"]:
            report["signed"] = verify_signed(trail, KeyStore.default().public_key_path)
        report["intact"] = True
    except AuditChainBroken as exc:
        report.update(intact=False, error=str(exc))
    relative = f"audit-{name}.json"
    (folder / relative).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ran = report.get("intact") is False or bool(report.get("records"))  # an empty intact trail proves nothing
    description = (
        f"{report.get('records', 0)} records, chain intact"
        if report.get("intact")
        else f"chain broken: {report.get('error')}"
    )
    if not ran:
        description = "no record yet on this machine: nothing to verify"
    return _outcome(
        f"audit-{name}",
        f"Audit trail {name} verified",
        kit,
        when,
        ran=ran,
        passed=bool(report.get("intact")),
        description=description,
        evidence=(_evidence(folder, relative, f"verification of the {name} trail"),),
        subjects=subjects,
    )


def model_check(
    config: dict[str, Any], folder: Path, kit: KitComponents, subjects: tuple[str, ...], when: datetime.datetime
) -> CheckOutcome:
    from slipway.errors import SlipwayError
    from slipway.signing import verify

    digest, signature = config.get("slipway:modelArtifactDigest"), config.get("slipway:modelSignature")
    pem = config.get("slipway:modelPublicKey")
    report: dict[str, Any] = {"digest": digest, "signature": signature}
    if not (digest and signature and pem):
        report["verified"] = None
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as key:
            key.write(str(pem))
            key.flush()
            try:
                verify(Path(key.name), str(digest).encode(), str(signature))
                report["verified"] = True
            except SlipwayError as exc:
                report.update(verified=False, error=str(exc))
    stored = _stored_card(str(digest), folder) if digest else None
    if stored is not None:
        report["model_card"] = {"tag": stored, "file": MODEL_CARD}
    (folder / "model-signature.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ran = report["verified"] is not None
    description = {
        True: f"the pinned model {digest} is signed by the pinned key",
        False: f"the pinned signature does not verify: {report.get('error')}",
        None: "the stack pins no model digest, signature and key",
    }[report["verified"]]
    evidence = [_evidence(folder, "model-signature.json", "the pinned model's verification")]
    if stored is not None:
        description += f"; its card is {stored}'s in the model store ({MODEL_CARD})"
        evidence.append(_evidence(folder, MODEL_CARD, f"the model card of {stored}, covered by the pinned digest"))
    elif digest:
        description += "; the model store here holds no model with that digest, so its card is not included"
    return _outcome(
        "model-signature",
        "The stack's pinned model verified",
        kit,
        when,
        ran=ran,
        passed=report["verified"] is True,
        description=description,
        evidence=tuple(evidence),
        subjects=subjects,
        items=("model",) if digest else (),
    )


def _stored_card(digest: str, folder: Path) -> str | None:
    """Copy the card of the stored model with ``digest`` (if this machine has it); its tag."""
    from bentos.classifier.artifact import stored_with_digest

    found = stored_with_digest(digest)
    if found is None:
        return None
    tag, directory = found
    shutil.copyfile(directory / "card.json", folder / MODEL_CARD)
    return tag


def drills_check(
    drills: Path | None, folder: Path, kit: KitComponents, subjects: tuple[str, ...], when: datetime.datetime
) -> CheckOutcome:
    if drills is None or not drills.exists():
        return _outcome(
            "drills",
            "Drills of the failure modes",
            kit,
            when,
            ran=False,
            passed=False,
            description="no drill records given (--drills)",
            evidence=(),
            subjects=subjects,
        )
    records = json.loads(drills.read_text(encoding="utf-8"))
    (folder / "drills.json").write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    failed = [r["drill"] for r in records if not r.get("passed")]
    description = f"{len(records)} drills, {len(records) - len(failed)} passed" + (
        f"; failed: {', '.join(failed)}" if failed else ""
    )
    return _outcome(
        "drills",
        "Drills of the failure modes",
        kit,
        when,
        ran=True,
        passed=not failed,
        description=description,
        evidence=(_evidence(folder, "drills.json", "the drill records"),),
        subjects=subjects,
    )


def sbom_check(
    project: Path,
    folder: Path,
    kit: KitComponents,
    subjects: tuple[str, ...],
    when: datetime.datetime,
    image: Image | None = None,
) -> CheckOutcome:
    """The locked environment's SBOM, and the image's when it is built here (``image``)."""
    from evidence.image_sbom import contents, image_sbom_json

    (folder / "sbom.cdx.json").write_text(sbom_json(project / "uv.lock", when), encoding="utf-8")
    count = len(json.loads((folder / "sbom.cdx.json").read_text(encoding="utf-8"))["components"])
    description = f"CycloneDX 1.6, valid by its schema: the locked environment, {count} components"
    evidence = [_evidence(folder, "sbom.cdx.json", "CycloneDX SBOM of uv.lock")]
    if image is None:
        description += "; the image is not built on this machine (give --image REF to describe it)"
    else:
        found = contents(image)
        (folder / IMAGE_SBOM).write_text(image_sbom_json(image, found, project / "uv.lock", when), encoding="utf-8")
        description += (
            f"; the image {image.reference}, {len(found.debian)} Debian packages and "
            f"{len(found.python)} Python distributions"
        )
        evidence.append(_evidence(folder, IMAGE_SBOM, f"CycloneDX SBOM of the image {image.reference}"))
    return _outcome(
        "sbom",
        "Software bills of materials",
        kit,
        when,
        ran=True,
        passed=True,
        description=description,
        evidence=tuple(evidence),
        subjects=subjects,
        items=("image",) if image is not None else (),
    )
