"""SARIF 2.1.0 (code-scanning annotations): one rule descriptor per rule, one result per finding,
file/line regions, exemptions as external suppressions, unusable input as tool notifications."""

from __future__ import annotations

import json

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

from policies.model import Enforcement, Severity
from policies.result import GateResult
from slipway import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}


def _level(enforcement: Enforcement) -> Level:
    return Level.ERROR if enforcement is Enforcement.MANDATORY else Level.WARNING


def render(result: GateResult) -> str:
    rules = [rule for rule, _ in result.rules]
    index = {rule.id: i for i, rule in enumerate(rules)}
    descriptors = [
        ReportingDescriptor(
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
        for rule, enforcement in result.rules
    ]
    results = []
    for finding in result.findings:
        source = finding.source
        qualified = "/".join(p for p in (source.kind, source.namespace, source.name) if p)
        extra = {}
        if finding.exemption is not None:
            extra["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": finding.exemption.justification,
                    "properties": {
                        "approver": finding.exemption.approver,
                        "expires": finding.exemption.expires,
                    },
                }
            ]
        results.append(
            Result(
                ruleId=finding.rule.id,
                ruleIndex=index.get(finding.rule.id),
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
        )
    notifications = [
        {
            "level": "error",
            "message": {"text": problem.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": problem.file},
                        "region": {"startLine": max(problem.line, 1)},
                    }
                }
            ],
        }
        for problem in result.problems
    ]
    log = Sarif(
        version="2.1.0",
        runs=[
            Run(
                tool=Tool(driver=ToolDriver(name="slipway-gate", version=__version__, rules=descriptors)),
                results=results,
                invocations=[
                    Invocation(
                        executionSuccessful=not result.problems,
                        toolExecutionNotifications=notifications or None,
                    )
                ],
            )
        ],
    )
    document = {"$schema": SCHEMA, **log.model_dump(mode="json", by_alias=True, exclude_none=True)}
    document.pop("schemaUri", None)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
