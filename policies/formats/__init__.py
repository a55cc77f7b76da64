"""Report formats: text for people, JSON (DESIGN.md contract), SARIF 2.1.0, JUnit XML."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TextIO

from policies.result import GateResult

Writer = Callable[[GateResult, TextIO], None]


def render_to_string(name: str, result: GateResult) -> str:
    buffer = io.StringIO()
    writer(name)(result, buffer)
    return buffer.getvalue()


def writer(name: str) -> Writer:
    """The function that streams ``result`` in format ``name`` to a text stream."""
    if name == "text":
        from policies.formats.text import write as render
    elif name == "json":
        from policies.formats.json_report import write as render
    elif name == "sarif":
        from policies.formats.sarif import write as render
    elif name == "junit":
        from policies.formats.junit import write as render
    else:  # click restricts the choice; this guards library callers
        raise ValueError(f"unknown format {name!r}")
    return render


FORMATS = ("text", "json", "sarif", "junit")
