"""JUnit XML: one test suite per rule, one test case per rule x object it applies to.

A finding fails its case (``<failure type="mandatory|advisory">``), an exempted one is
``<skipped>`` with the justification, unusable input is an ``<error>`` in a suite of its own.
Suites are built and written one at a time.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from typing import TextIO

from policies.k8s import POD_KINDS
from policies.model import Enforcement, Finding, Rule, SourceObject
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


class _Suites:
    def __init__(self, result: GateResult) -> None:
        self.result = result
        self.by_case: dict[tuple[str, int], list[Finding]] = defaultdict(list)
        for finding in result.findings:
            self.by_case[(finding.rule.id, id(finding.source))].append(finding)

    def sources(self, rule: Rule) -> list[SourceObject]:
        sources = [s for s in self.result.objects if _applies(rule, s)]
        seen = {id(s) for s in sources}
        extra = {
            id(f.source): f.source for f in self.result.findings if f.rule.id == rule.id and id(f.source) not in seen
        }
        return sources + list(extra.values())

    def outcome(self, rule: Rule, source: SourceObject) -> tuple[list[Finding], list[Finding]]:
        findings = self.by_case.get((rule.id, id(source)), [])
        return [f for f in findings if not f.exempted], [f for f in findings if f.exempted]

    def counts(self, rule: Rule) -> tuple[int, int, int]:
        tests = failures = skipped = 0
        for source in self.sources(rule):
            blocking, exempted = self.outcome(rule, source)
            tests += 1
            failures += bool(blocking)
            skipped += bool(exempted) and not blocking
        return tests, failures, skipped

    def suite(self, rule: Rule, enforcement: Enforcement) -> ET.Element:
        tests, failures, skipped = self.counts(rule)
        suite = ET.Element(
            "testsuite", name=rule.id, tests=str(tests), failures=str(failures), skipped=str(skipped), errors="0"
        )
        for source in self.sources(rule):
            case = ET.SubElement(suite, "testcase", classname=rule.id, name=_case_name(source))
            blocking, exempted = self.outcome(rule, source)
            if blocking:
                failure = ET.SubElement(
                    case, "failure", message="; ".join(f.violation.message for f in blocking), type=enforcement.value
                )
                failure.text = "\n".join(
                    f"{f.violation.path}: {f.violation.message} [{', '.join(f.controls)}]\nfix: {rule.remediation}"
                    for f in blocking
                )
            elif exempted and (e := exempted[0].exemption) is not None:
                ET.SubElement(case, "skipped", message=f"exempted until {e.expires} by {e.approver}: {e.justification}")
        return suite


def _input_suite(result: GateResult) -> ET.Element:
    count = str(len(result.problems))
    suite = ET.Element("testsuite", name="input", tests=count, failures="0", skipped="0", errors=count)
    for problem in result.problems:
        case = ET.SubElement(suite, "testcase", classname="input", name=f"{problem.file}:{problem.line}")
        ET.SubElement(case, "error", message=problem.message, type="unusable-input")
    return suite


def _serialised(element: ET.Element) -> str:
    ET.indent(element, space="  ", level=1)
    return "  " + ET.tostring(element, encoding="unicode").rstrip() + "\n"


def iter_suites(result: GateResult) -> Iterator[ET.Element]:
    suites = _Suites(result)
    for rule, enforcement in result.rules:
        yield suites.suite(rule, enforcement)
    if result.problems:
        yield _input_suite(result)


def write(result: GateResult, out: TextIO) -> None:
    suites = _Suites(result)
    totals = [suites.counts(rule) for rule, _ in result.rules]
    errors = len(result.problems)
    root = ET.Element(
        "testsuites",
        name="slipway gate",
        tests=str(sum(t for t, _, _ in totals) + errors),
        failures=str(sum(f for _, f, _ in totals)),
        skipped=str(sum(s for _, _, s in totals)),
        errors=str(errors),
    )
    opening = ET.tostring(root, encoding="unicode").replace(" />", ">")
    out.write("<?xml version='1.0' encoding='utf-8'?>\n" + opening + "\n")
    for suite in iter_suites(result):
        out.write(_serialised(suite))
    out.write("</testsuites>\n")
