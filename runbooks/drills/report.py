"""Drill results as JUnit XML (one test case per drill; a failed drill carries its reason)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from runbooks.drills.drill import DrillResult


def junit_xml(results: Sequence[DrillResult]) -> str:
    failures = sum(1 for r in results if not r.passed)
    suite = ET.Element("testsuite", name="drills", tests=str(len(results)), failures=str(failures),
                       time=f"{sum(r.seconds for r in results):.2f}")  # fmt: skip
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=f"drill.{result.alert}", name=result.drill,
                             time=f"{result.seconds:.2f}")  # fmt: skip
        if not result.passed:
            ET.SubElement(case, "failure", message=result.error or "failed", type="drill")
        ET.SubElement(case, "system-out").text = (
            f"injected: {result.injected}; fired after {result.fired_after} s; "
            f"mitigation (the runbook's): {result.mitigation} - applied as: {result.applied}; "
            f"resolved after {result.resolved_after} s"
        )
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
