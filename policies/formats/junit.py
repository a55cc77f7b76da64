"""JUnit XML: one test suite per rule, one test case per rule x object it applies to.

A finding fails its case (mandatory: <failure>, advisory: <failure type="advisory">), an exempted
one is <skipped> with the justification, unusable input is an <error> in a suite of its own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from policies.k8s import POD_KINDS
from policies.model import Finding, Rule, SourceObject
from policies.result import GateResult


def _applies(rule: Rule, source: SourceObject) -> bool:
    if rule.kinds is not None:
        return source.kind in rule.kinds
    if rule.pod_check is not None:
        return source.kind in POD_KINDS
    return rule.check is not None


def _case_name(source: SourceObject) -> str:
    where = f"{source.namespace}/{source.name}" if source.namespace else source.name
    return f"{source.kind} {where} ({source.file}:{source.line})"


def render(result: GateResult) -> str:
    by_case: dict[tuple[str, int], list[Finding]] = defaultdict(list)
    for finding in result.findings:
        by_case[(finding.rule.id, id(finding.source))].append(finding)
    root = ET.Element("testsuites", name="slipway gate")
    total_tests = total_failures = total_skipped = 0
    for rule, enforcement in result.rules:
        suite = ET.SubElement(root, "testsuite", name=rule.id)
        tests = failures = skipped = 0
        sources = [s for s in result.objects if _applies(rule, s)]
        seen = {id(s) for s in sources}
        sources += [f.source for f in result.findings if f.rule.id == rule.id and id(f.source) not in seen]
        for source in sources:
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=rule.id, name=_case_name(source))
            findings = by_case.get((rule.id, id(source)), [])
            blocking = [f for f in findings if not f.exempted]
            if blocking:
                failures += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    message="; ".join(f.violation.message for f in blocking),
                    type=enforcement.value,
                )
                failure.text = "\n".join(
                    f"{f.violation.path}: {f.violation.message} [{', '.join(f.controls)}]\nfix: {rule.remediation}"
                    for f in blocking
                )
            elif findings:
                skipped += 1
                exemption = findings[0].exemption
                assert exemption is not None
                ET.SubElement(
                    case,
                    "skipped",
                    message=f"exempted until {exemption.expires} by {exemption.approver}: {exemption.justification}",
                )
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
        suite.set("errors", "0")
        total_tests, total_failures, total_skipped = (
            tests + total_tests,
            failures + total_failures,
            skipped + total_skipped,
        )
    if result.problems:
        suite = ET.SubElement(
            root,
            "testsuite",
            name="input",
            tests=str(len(result.problems)),
            failures="0",
            skipped="0",
            errors=str(len(result.problems)),
        )
        for problem in result.problems:
            case = ET.SubElement(suite, "testcase", classname="input", name=f"{problem.file}:{problem.line}")
            ET.SubElement(case, "error", message=problem.message, type="unusable-input")
    root.set("tests", str(total_tests + len(result.problems)))
    root.set("failures", str(total_failures))
    root.set("skipped", str(total_skipped))
    root.set("errors", str(len(result.problems)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
