"""Human-readable report: findings grouped by object, then a one-line verdict."""

from __future__ import annotations

from itertools import groupby

from policies.result import GateResult


def render(result: GateResult) -> str:
    lines: list[str] = []
    for problem in result.problems:
        lines.append(f"{problem.file}:{problem.line}: unusable input: {problem.message}")
    key = lambda f: (f.source.file, f.source.line, f.source.kind, f.source.name)  # noqa: E731
    for (file, line, kind, _), group in groupby(sorted(result.findings, key=key), key=key):
        findings = list(group)
        source = findings[0].source
        where = f"{source.namespace}/{source.name}" if source.namespace else source.name
        lines.append(f"{file}:{line}: {kind} {where}")
        for f in findings:
            mark = "exempted" if f.exempted else f.enforcement.value
            lines.append(f"  [{mark}, {f.rule.severity.value}] {f.rule.id}: {f.violation.message}")
            lines.append(f"      at {f.violation.path}; {', '.join(f.controls)}")
            if f.exemption is not None:
                lines.append(
                    f"      exempted until {f.exemption.expires} by {f.exemption.approver}: {f.exemption.justification}"
                )
            else:
                lines.append(f"      fix: {f.rule.remediation}")
    lines.extend(result.notes)
    verdict = {0: "PASS", 1: "FAIL", 2: "ERROR"}[result.exit_code]
    lines.append(
        f"{verdict}: {len(result.objects)} objects, {len(result.findings)} findings "
        f"({result.mandatory} mandatory, {result.exempted} exempted), {len(result.problems)} unusable input(s)"
    )
    return "\n".join(lines) + "\n"
