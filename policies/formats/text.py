"""Human-readable report: findings grouped by object, then a one-line verdict."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import TextIO

from policies.model import Finding
from policies.result import GateResult


def write(result: GateResult, out: TextIO) -> None:
    for line in iter_lines(result):
        out.write(line + "\n")


def verdict_line(result: GateResult) -> str:
    verdict = {0: "PASS", 1: "FAIL", 2: "ERROR"}[result.exit_code]
    return (
        f"{verdict}: {len(result.objects)} objects, {len(result.findings)} findings "
        f"({result.mandatory} mandatory, {result.exempted} exempted), {len(result.problems)} unusable input(s)"
    )


def _object_key(finding: Finding) -> tuple[str, int, str, str]:
    source = finding.source
    return source.file, source.line, source.kind, source.name


def iter_lines(result: GateResult) -> Iterator[str]:
    for problem in result.problems:
        yield f"{problem.file}:{problem.line}: unusable input: {problem.message}"
    for (file, line, kind, _), group in groupby(sorted(result.findings, key=_object_key), key=_object_key):
        findings = list(group)
        source = findings[0].source
        where = f"{source.namespace}/{source.name}" if source.namespace else source.name
        yield f"{file}:{line}: {kind} {where}"
        for f in findings:
            mark = "exempted" if f.exempted else f.enforcement.value
            yield f"  [{mark}, {f.rule.severity.value}] {f.rule.id}: {f.violation.message}"
            yield f"      at {f.violation.path}; {', '.join(f.controls)}"
            if f.exemption is not None:
                e = f.exemption
                yield f"      exempted until {e.expires} by {e.approver}: {e.justification}"
            else:
                yield f"      fix: {f.rule.remediation}"
    yield from result.notes
    yield verdict_line(result)
