"""The CycloneDX SBOM of the locked environment: complete, reproducible, valid by the library's schema."""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path

from evidence.sbom import sbom_json, sbom_problems

LOCK = Path(__file__).resolve().parents[2] / "uv.lock"
WHEN = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def test_every_locked_package_is_a_component_with_its_hashes_and_dependencies() -> None:
    document = json.loads(sbom_json(LOCK, WHEN))
    locked = {(p["name"], p["version"]) for p in tomllib.loads(LOCK.read_text())["package"]} - {("slipway", "0.1.0")}
    assert {(c["name"], c["version"]) for c in document["components"]} == locked
    assert document["specVersion"] == "1.6" and document["metadata"]["component"]["name"] == "slipway"
    httpx = next(c for c in document["components"] if c["name"] == "httpx")
    assert httpx["purl"] == f"pkg:pypi/httpx@{httpx['version']}"
    assert all(len(h["content"]) == 64 for r in httpx["externalReferences"] for h in r["hashes"])
    graph = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert any(ref.startswith("pkg:pypi/httpcore@") for ref in graph[httpx["bom-ref"]])


def test_the_same_lock_and_time_give_the_same_bytes() -> None:
    assert sbom_json(LOCK, WHEN) == sbom_json(LOCK, WHEN)


def test_the_schema_check_can_fail() -> None:
    document = json.loads(sbom_json(LOCK, WHEN))
    document["components"][0]["purl"] = 5
    assert sbom_problems(document) == ['/components/0/purl: 5 is not of type "string"']
