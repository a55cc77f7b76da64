"""Exemptions: reviewed, approved, expiring exceptions to a rule for selected objects.

File format (YAML)::

    exemptions:
      - rule: network.service-exposure
        match: {kind: Service, namespace: edge, name: public-*}     # glob patterns; omitted = any
        justification: Public health-check endpoint behind the WAF (CHG-1234)
        approver: jane.doe@example.org
        expires: 2027-01-31                                          # valid through this date (UTC)

Exempted findings are reported as exempted, never dropped. An expired or malformed exemption is
itself a mandatory finding (rule ``gate.exemption``). Every use is appended to the hash-chained
audit trail ``$SLIPWAY_HOME/audit/exemptions.jsonl``.
"""

from __future__ import annotations

import datetime
import fnmatch
from pathlib import Path
from typing import Any

import yaml

from policies.model import Enforcement, Exemption, Finding, Rule, Severity, SourceObject, Violation
from slipway.errors import UsageError

EXEMPTION_RULE = Rule(
    id="gate.exemption",
    title="Exemptions are complete and unexpired",
    severity=Severity.HIGH,
    enforcement=Enforcement.MANDATORY,
    concern="bp:exemption-valid",
    controls=("nist-800-53:CA-7", "nist-800-53:CM-3"),
    remediation="Complete the entry (rule, justification, approver, expires: YYYY-MM-DD) or renew it through "
    "review; remove exemptions that are no longer needed.",
    doc_url="policies/RULES.md#gate-exemption",
)
REQUIRED = ("rule", "justification", "approver", "expires")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_exemptions(path: Path, known_rules: set[str], today: datetime.date) -> tuple[list[Exemption], list[Finding]]:
    """Valid exemptions, and findings for the expired or malformed ones."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except OSError as exc:
        raise UsageError(f"cannot read exemptions file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"exemptions file {path} is not valid YAML: {exc}") from None
    if root is None:
        return [], []
    entries = _entries(root, data, path)
    valid: list[Exemption] = []
    problems: list[Finding] = []
    for index, (node, entry) in enumerate(entries):
        line = node.start_mark.line + 1
        problem = _problem(entry, known_rules, today)
        if problem:
            source = SourceObject(
                {
                    "apiVersion": "slipway.dev/v1",
                    "kind": "Exemption",
                    "metadata": {"name": f"exemptions[{index}]"},
                },
                str(path),
                line,
            )
            violation = Violation(f"exemptions[{index}]", problem)
            problems.append(
                Finding(
                    EXEMPTION_RULE,
                    source,
                    violation,
                    Enforcement.MANDATORY,
                    controls=EXEMPTION_RULE.controls_for(violation),
                )
            )
            continue
        match = entry.get("match") or {}
        valid.append(
            Exemption(
                rule=str(entry["rule"]),
                kind=_opt(match.get("kind")),
                namespace=_opt(match.get("namespace")),
                name=_opt(match.get("name")),
                justification=str(entry["justification"]),
                approver=str(entry["approver"]),
                expires=str(entry["expires"]),
                line=line,
            )
        )
    return valid, problems


def _entries(root: yaml.Node, data: Any, path: Path) -> list[tuple[yaml.Node, dict[str, Any]]]:
    """Each entry with its YAML node (for the line number)."""
    if not isinstance(data, dict) or not isinstance(data.get("exemptions"), list):
        raise UsageError(f"exemptions file {path}: expected a mapping with an 'exemptions' list")
    exemptions_node = next(value for key, value in root.value if key.value == "exemptions")
    return [
        (node, item if isinstance(item, dict) else {"__invalid__": item})
        for node, item in zip(exemptions_node.value, data["exemptions"], strict=True)
    ]


def _problem(entry: dict[str, Any], known_rules: set[str], today: datetime.date) -> str | None:
    if "__invalid__" in entry:
        return "exemption is not a mapping"
    missing = [key for key in REQUIRED if not entry.get(key)]
    if missing:
        return f"exemption lacks {', '.join(missing)}"
    if entry["rule"] not in known_rules:
        return f"exemption names unknown rule {entry['rule']!r}"
    match = entry.get("match", {})
    if not isinstance(match, dict) or set(match) - {"kind", "namespace", "name"}:
        return "exemption 'match' may only hold kind, namespace and name"
    expires = entry["expires"]
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            return f"exemption expires {expires!r} is not a date (YYYY-MM-DD)"
    if not isinstance(expires, datetime.date):
        return f"exemption expires {expires!r} is not a date (YYYY-MM-DD)"
    if expires < today:
        return f"exemption for {entry['rule']} expired on {expires.isoformat()} (approved by {entry['approver']})"
    return None


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _matches(pattern: str | None, value: str | None) -> bool:
    return pattern is None or fnmatch.fnmatchcase(value or "", pattern)


def apply_exemptions(findings: list[Finding], exemptions: list[Exemption]) -> list[Finding]:
    """Mark findings covered by an exemption; return the ones that were exempted."""
    used = []
    for finding in findings:
        source = finding.source
        for exemption in exemptions:
            if (
                exemption.rule == finding.rule.id
                and _matches(exemption.kind, source.kind)
                and _matches(exemption.namespace, source.namespace)
                and _matches(exemption.name, source.name)
            ):
                finding.exemption = exemption
                used.append(finding)
                break
    return used
