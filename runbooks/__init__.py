"""Failure modes as code: the catalog and what is generated from it (pages, index, handoff, alert rules)."""
