"""Report formats: text for people, JSON (DESIGN.md contract), SARIF 2.1.0, JUnit XML."""

from __future__ import annotations

from collections.abc import Callable

from policies.result import GateResult


def formatter(name: str) -> Callable[[GateResult], str]:
    if name == "text":
        from policies.formats.text import render
    elif name == "json":
        from policies.formats.json_report import render
    elif name == "sarif":
        from policies.formats.sarif import render
    elif name == "junit":
        from policies.formats.junit import render
    else:  # click restricts the choice; this guards library callers
        raise ValueError(f"unknown format {name!r}")
    return render


FORMATS = ("text", "json", "sarif", "junit")
