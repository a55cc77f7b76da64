"""The checks `slipway evidence` runs for a stack, each leaving its report in the evidence folder:

- ``gate``: the stack rendered (the very program `pulumi up` runs, under mocks) and the policy gate on
  every object (JSON and SARIF reports); a control fails when a rule mapped to it has a blocking
  finding, and exempted findings become exemption risks;
- ``audit-reviews``, ``audit-promotions``, ``audit-exemptions``: each hash-chained audit trail verified
  (promotions' signatures too); a trail with no record yet is not assessed;
- ``model-signature``: the stack's pinned model digest and signature verified under its pinned key;
- ``drills``: the latest drill records (``--drills``), when given;
- ``sbom``: the SBOM of uv.lock generated and validated.

Usage::

    outcomes, exemptions = run_checks(stack, project_dir, folder, catalog, kit, subjects, when)
"""

from __future__ import annotations

import datetime
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from evidence.catalog import Catalog
from evidence.component import KitComponents
from evidence.results import CheckOutcome, Evidence, ExemptionRisk
from evidence.sbom import sbom_json

VALID_FOR = datetime.timedelta(days=30)  # how long an automated observation is taken to hold
SEVERITY_ORDER = ("low", "medium", "high", "critical")


def kit_version() -> str:
    from importlib.metadata import version

    return version("slipway")


def _evidence(folder: Path, relative: str, description: str) -> Evidence:
    return Evidence(relative, hashlib.sha256((folder / relative).read_bytes()).hexdigest(), description)


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
) -> tuple[CheckOutcome, list[ExemptionRisk]]:
    from evidence.component import _control
    from infra.render import render_stack, write_manifests
    from policies.formats import writer
    from policies.gate import run_gate
    from slipway.output import atomic_output

    write_manifests(render_stack(project, stack), folder / "rendered")
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
        where = f"{finding.source.kind}/{finding.source.namespace or '-'}/{finding.source.name}"
        if finding.exemption is not None:
            e = finding.exemption
            exemptions[(e.rule, where)] = ExemptionRisk(
                e.rule, where, e.justification, e.approver, e.expires, tuple(controls)
            )
        elif finding.blocking:
            for control in controls:
                failed.setdefault(control, []).append(f"{finding.rule.id} on {where}")
                level = finding.rule.severity.value
                if SEVERITY_ORDER.index(level) > SEVERITY_ORDER.index(severity.get(control, "low")):
                    severity[control] = level
                severity.setdefault(control, level)
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
        {c: "blocking findings: " + "; ".join(v[:5]) + (" ..." if len(v) > 5 else "") for c, v in failed.items()},
        severity,
    )
    return outcome, list(exemptions.values())


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
    (folder / "model-signature.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ran = report["verified"] is not None
    description = {
        True: f"the pinned model {digest} is signed by the pinned key",
        False: f"the pinned signature does not verify: {report.get('error')}",
        None: "the stack pins no model digest, signature and key",
    }[report["verified"]]
    return _outcome(
        "model-signature",
        "The stack's pinned model verified",
        kit,
        when,
        ran=ran,
        passed=report["verified"] is True,
        description=description,
        evidence=(_evidence(folder, "model-signature.json", "the pinned model's verification"),),
        subjects=subjects,
    )


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
    project: Path, folder: Path, kit: KitComponents, subjects: tuple[str, ...], when: datetime.datetime
) -> CheckOutcome:
    (folder / "sbom.cdx.json").write_text(sbom_json(project / "uv.lock", when), encoding="utf-8")
    count = len(json.loads((folder / "sbom.cdx.json").read_text(encoding="utf-8"))["components"])
    return _outcome(
        "sbom",
        "Software bill of materials of the locked environment",
        kit,
        when,
        ran=True,
        passed=True,
        description=f"CycloneDX 1.6, {count} components, valid by its schema",
        evidence=(_evidence(folder, "sbom.cdx.json", "CycloneDX SBOM of uv.lock"),),
        subjects=subjects,
    )
