"""The drill copy of the generated alert rules: every ``for`` and every range window scaled down by
the same factor, so a drill takes seconds while each rule keeps its shape. Windows never go below
``MIN_WINDOW`` seconds (a rate needs a few one-second scrapes); ``keep_firing_for`` is scaled too.

Usage::

    rules = drill_rules(factor=600)   # 30m -> 3s, 1h -> 6s, 24h -> 144s
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from runbooks.generate import RULES, RUNBOOKS

FACTOR = 600
MIN_WINDOW = 5
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"^(\d+)([smhd])$")
WINDOW = re.compile(r"\[(\d+)([smhd])\]")


def _seconds(value: str) -> int:
    match = DURATION.match(value)
    assert match, value
    return int(match[1]) * UNITS[match[2]]


def scale_window(expr: str, factor: float) -> str:
    return WINDOW.sub(lambda m: f"[{max(MIN_WINDOW, round(int(m[1]) * UNITS[m[2]] / factor))}s]", expr)


def drill_rules(factor: float = FACTOR) -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load((RUNBOOKS / RULES).read_text(encoding="utf-8"))
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["expr"] = scale_window(rule["expr"], factor)
            rule["for"] = f"{round(_seconds(rule['for']) / factor)}s" if "for" in rule else "0s"
            if "keep_firing_for" in rule:
                rule["keep_firing_for"] = f"{round(_seconds(rule['keep_firing_for']) / factor)}s"
    return rules
