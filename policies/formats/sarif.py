"""SARIF 2.1.0 (code-scanning annotations): one rule descriptor per rule, one result per finding,
file/line regions, exemptions as external suppressions, unusable input as tool notifications.

The log is built from ``sarif_pydantic``'s models (the SARIF object model) and streamed: the run
frame is serialised once and each result is modelled, dumped and written in turn.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from sarif_pydantic import (
    ArtifactLocation,
    Invocation,
    Level,
    Location,
    LogicalLocation,
    Message,
    PhysicalLocation,
    Region,
    ReportingConfiguration,
    ReportingDescriptor,
    Result,
    Run,
    Sarif,
    Tool,
    ToolDriver,
)

from policies.model import Enforcement, Finding, InputProblem, Rule, Severity
from policies.result import GateResult
from slipway import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}
_RESULTS = "@@slipway-results@@"


def _level(enforcement: Enforcement) -> Level:
    return Level.ERROR if enforcement is Enforcement.MANDATORY else Level.WARNING


def _descriptor(rule: Rule, enforcement: Enforcement) -> ReportingDescriptor:
    return ReportingDescriptor(
        id=rule.id,
        name=rule.title,
        shortDescription=Message(text=rule.title),
        fullDescription=Message(text=f"{rule.title} ({rule.concern})"),
        help=Message(text=rule.remediation, markdown=f"**Fix:** {rule.remediation}\n\nSee `{rule.doc_url}`."),
        helpUri=rule.doc_url if rule.doc_url.startswith("https://") else None,
        defaultConfiguration=ReportingConfiguration(level=_level(enforcement)),
        properties={
            "tags": ["security", rule.concern, *rule.controls],
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "enforcement": enforcement.value,
        },
    )


def _result(finding: Finding, rule_index: int | None) -> dict[str, Any]:
    source = finding.source
    qualified = "/".join(p for p in (source.kind, source.namespace, source.name) if p)
    extra: dict[str, Any] = {}
    if finding.exemption is not None:
        extra["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": finding.exemption.justification,
                "properties": {"approver": finding.exemption.approver, "expires": finding.exemption.expires},
            }
        ]
    result = Result(
        ruleId=finding.rule.id,
        ruleIndex=rule_index,
        level=_level(finding.enforcement),
        message=Message(text=f"{qualified}: {finding.violation.message}"),
        locations=[
            Location(
                physicalLocation=PhysicalLocation(
                    artifactLocation=ArtifactLocation(uri=source.file),
                    region=Region(startLine=max(source.line, 1)),
                ),
                logicalLocations=[
                    LogicalLocation(fullyQualifiedName=f"{qualified}:{finding.violation.path}", kind="object")
                ],
            )
        ],
        properties={"controls": finding.controls, "path": finding.violation.path},
        **extra,
    )
    dumped: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _notification(problem: InputProblem) -> dict[str, Any]:
    location = {"artifactLocation": {"uri": problem.file}, "region": {"startLine": max(problem.line, 1)}}
    return {"level": "error", "message": {"text": problem.message}, "locations": [{"physicalLocation": location}]}


def write(result: GateResult, out: TextIO) -> None:
    index = {rule.id: i for i, (rule, _) in enumerate(result.rules)}
    log = Sarif(
        version="2.1.0",
        runs=[
            Run(
                tool=Tool(
                    driver=ToolDriver(
                        name="slipway-gate",
                        version=__version__,
                        rules=[_descriptor(rule, enforcement) for rule, enforcement in result.rules],
                    )
                ),
                results=[],
                invocations=[
                    Invocation(
                        executionSuccessful=not result.problems,
                        toolExecutionNotifications=[_notification(p) for p in result.problems] or None,
                    )
                ],
            )
        ],
    )
    document = {"$schema": SCHEMA, **log.model_dump(mode="json", by_alias=True, exclude_none=True)}
    document.pop("schemaUri", None)
    document["runs"][0]["results"] = _RESULTS
    head, tail = json.dumps(document, indent=2, ensure_ascii=False).split(json.dumps(_RESULTS))
    out.write(head + "[")
    for position, finding in enumerate(result.findings):
        out.write(("\n" if position == 0 else ",\n") + json.dumps(_result(finding, index.get(finding.rule.id))))
    out.write("]" + tail + "\n")
