"""The committed rule reference is what the rules generate, and every finding's doc link resolves."""

from __future__ import annotations

import re

from policies.docs import TARGET, render
from policies.exemptions import EXEMPTION_RULE
from policies.rules import ALL_RULES


def test_rules_md_is_current() -> None:
    assert TARGET.read_text() == render(), "policies/RULES.md is stale: run `python -m policies.docs`"


def test_every_repository_doc_link_points_at_a_heading() -> None:
    headings = set(re.findall(r"^## (\S+)$", TARGET.read_text(), re.MULTILINE))
    for rule in (*ALL_RULES, EXEMPTION_RULE):
        if rule.doc_url.startswith("https://"):
            assert rule.doc_url.startswith("https://kubernetes.io/docs/"), rule.id
            continue
        path, _, anchor = rule.doc_url.partition("#")
        assert path == "policies/RULES.md", rule.id
        assert anchor in headings, f"{rule.id}: #{anchor} is not a heading of RULES.md"
