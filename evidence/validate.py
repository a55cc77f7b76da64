"""Checks of the evidence documents: NIST's OSCAL 1.2.3 JSON Schema (jsonschema-rs: the schema's
``\\p{L}`` patterns need a Rust regex engine), and what a schema cannot express: every UUID a document
points to exists (in it or in a document it imports), every control and objective id exists in the
catalog (or is a mapped control outside the baselines with its reason), every timestamp has a time
zone.

Usage::

    problems = check_documents({"component-definition.json": doc, ...}, catalog, reasons)
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from evidence.catalog import SCHEMA, Catalog, reference_file

TIMESTAMP_FIELDS = {"last-modified", "published", "collected", "expires", "start", "end", "deadline",
                    "date-authorized", "timestamp"}  # fmt: skip
WITH_ZONE = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
REFERENCE_KEYS = re.compile(r".*-uuid$")


MODELS = {
    "component-definition": "oscal-complete-oscal-component-definition:component-definition",
    "system-security-plan": "oscal-complete-oscal-ssp:system-security-plan",
    "assessment-plan": "oscal-complete-oscal-ap:assessment-plan",
    "assessment-results": "oscal-complete-oscal-ar:assessment-results",
    "plan-of-action-and-milestones": "oscal-complete-oscal-poam:plan-of-action-and-milestones",
}


@functools.cache
def _validator(model: str) -> Any:
    """The schema narrowed to one model (errors then name the field, not "not valid under oneOf")."""
    import jsonschema_rs

    schema = json.loads(reference_file(*SCHEMA).read_text(encoding="utf-8"))
    narrowed = {"$schema": schema["$schema"], "definitions": schema["definitions"], "type": "object",
                "properties": {model: {"$ref": f"#/definitions/{MODELS[model]}"}}, "required": [model],
                "additionalProperties": False}  # fmt: skip
    return jsonschema_rs.Draft7Validator(narrowed)


def schema_problems(document: Mapping[str, Any]) -> list[str]:
    models = [key for key in document if key in MODELS]
    if len(models) != 1:
        return [f"(root): one of {', '.join(MODELS)} expected, found {', '.join(document) or 'nothing'}"]
    return [f"/{'/'.join(map(str, error.instance_path))}: {error.message}"
            for error in _validator(models[0]).iter_errors(dict(document))]  # fmt: skip


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every member of every object."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}/{index}")


def defined_uuids(document: Mapping[str, Any]) -> set[str]:
    return {value for _, key, value in _walk(document) if key == "uuid" and isinstance(value, str)}


def reference_problems(document: Mapping[str, Any], imported: set[str] | None = None) -> list[str]:
    known = defined_uuids(document) | (imported or set())
    problems = []
    for path, key, value in _walk(document):
        if REFERENCE_KEYS.match(key) and isinstance(value, str) and value not in known:
            problems.append(f"{path}/{key}: {value} is not defined")
        if key in ("href", "source") and isinstance(value, str) and value.startswith("#") and value[1:] not in known:
            problems.append(f"{path}/{key}: {value} points at nothing")
    return problems


def catalog_problems(document: Mapping[str, Any], catalog: Catalog, reasons: Mapping[str, str]) -> list[str]:
    """Control ids and objective ids that the catalog does not hold (a control outside the baselines
    is accepted with its stated reason, and so are its objectives)."""
    objectives = {o for c in catalog.controls.values() for o in c.objectives}
    problems = []
    for path, key, value in _walk(document):
        if key == "control-id" and value not in catalog.controls and value not in reasons:
            problems.append(f"{path}: control {value} is in no baseline and has no stated reason")
        objective = key == "target-id" and isinstance(value, str) and "_obj" in value
        if objective and value not in objectives and value.split("_obj")[0] not in reasons:
            problems.append(f"{path}: objective {value} is not in the catalog")
    return problems


def timestamp_problems(document: Mapping[str, Any]) -> list[str]:
    return [f"{path}/{key}: {value} has no time zone" for path, key, value in _walk(document)
            if key in TIMESTAMP_FIELDS and isinstance(value, str) and not WITH_ZONE.search(value)]  # fmt: skip
