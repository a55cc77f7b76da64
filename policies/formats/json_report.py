"""The JSON contract of DESIGN.md (``summary`` + ``findings``), plus ``errors`` for unusable input."""

from __future__ import annotations

import json
from typing import Any, TextIO

from policies.model import Finding
from policies.result import GateResult


def finding_dict(finding: Finding) -> dict[str, Any]:
    source, rule = finding.source, finding.rule
    data: dict[str, Any] = {
        "rule": rule.id,
        "controls": finding.controls,
        "severity": rule.severity.value,
        "enforcement": finding.enforcement.value,
        "exempted": finding.exempted,
        "resource": {
            "apiVersion": source.api_version,
            "kind": source.kind,
            "namespace": source.namespace,
            "name": source.name,
            "file": source.file,
            "line": source.line,
        },
        "path": finding.violation.path,
        "message": finding.violation.message,
        "remediation": rule.remediation,
    }
    if finding.exemption is not None:
        data["exemption"] = {
            "justification": finding.exemption.justification,
            "approver": finding.exemption.approver,
            "expires": finding.exemption.expires,
        }
    return data


def summary(result: GateResult) -> dict[str, int]:
    return {
        "objects": len(result.objects),
        "findings": len(result.findings),
        "mandatory": result.mandatory,
        "exempted": result.exempted,
    }


def write(result: GateResult, out: TextIO) -> None:
    """Stream the document: one finding per line, so memory does not grow with the report."""
    out.write('{"summary": ' + json.dumps(summary(result)) + ',\n "findings": [')
    for index, finding in enumerate(result.findings):
        out.write(("\n  " if index == 0 else ",\n  ") + json.dumps(finding_dict(finding), ensure_ascii=False))
    errors = [{"file": p.file, "line": p.line, "message": p.message} for p in result.problems]
    out.write('],\n "errors": ' + json.dumps(errors, ensure_ascii=False) + "}\n")
