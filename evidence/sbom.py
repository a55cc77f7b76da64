"""A CycloneDX 1.6 SBOM of the kit's locked Python environment, from ``uv.lock``: every locked
package with its version, purl, the SHA-256 of each distribution file uv would install, and the
dependency graph. Built with cyclonedx-python-lib and validated against the library's own strict
CycloneDX 1.6 schema files, formats included, by jsonschema-rs (the library's python-jsonschema
validator checks each URL with a parser grammar: minutes for this SBOM; jsonschema-rs takes 25 ms).

Reproducible: the serial number is derived from the lock's bytes and the timestamp is the one given,
so the same lock and time give the same bytes.

Usage::

    text = sbom_json(Path("uv.lock"), when)      # raises SbomInvalid when the schema refuses it
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import tomllib
import uuid
from pathlib import Path
from typing import Any

from evidence.ids import NAMESPACE


class SbomInvalid(RuntimeError):
    pass


def purl(name: str, version: str) -> Any:
    from packageurl import PackageURL

    return PackageURL(type="pypi", name=name, version=version)


def _files(package: dict[str, Any]) -> list[dict[str, Any]]:
    sdist = [package["sdist"]] if "sdist" in package else []
    return [f for f in [*sdist, *package.get("wheels", [])] if "url" in f and "hash" in f]


def _component(package: dict[str, Any]) -> Any:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
    from cyclonedx.model.component import Component, ComponentType

    name, version = package["name"], package["version"]
    references = []
    for file in _files(package):
        algorithm, _, digest = file["hash"].partition(":")
        hashes = [HashType(alg=HashAlgorithm.SHA_256, content=digest)] if algorithm == "sha256" else []
        references.append(ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(file["url"]),
                                            hashes=hashes))  # fmt: skip
    source = package.get("source", {})
    properties = [Property(name="slipway:lock:source", value=json.dumps(source, sort_keys=True))]
    return Component(name=name, version=version, type=ComponentType.LIBRARY, purl=purl(name, version),
                     bom_ref=str(purl(name, version)), external_references=references,
                     properties=properties)  # fmt: skip


def sbom_json(lock_path: Path, when: datetime.datetime, *, project: str = "slipway") -> str:
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.dependency import Dependency

    raw = lock_path.read_bytes()
    lock = tomllib.loads(raw.decode("utf-8"))
    packages = sorted(lock["package"], key=lambda p: (p["name"], p["version"]))
    root_package = next(p for p in packages if p["name"] == project)
    root = Component(name=project, version=root_package["version"], type=ComponentType.APPLICATION,
                     bom_ref=str(purl(project, root_package["version"])))  # fmt: skip
    components = {p["name"] + "@" + p["version"]: _component(p) for p in packages if p["name"] != project}
    versions: dict[str, list[str]] = {}
    for package in packages:
        versions.setdefault(package["name"], []).append(package["version"])
    bom = Bom(serial_number=uuid.uuid5(NAMESPACE, "sbom/" + hashlib.sha256(raw).hexdigest()),
              metadata=BomMetaData(component=root, timestamp=when.astimezone(datetime.UTC)))  # fmt: skip
    for component in components.values():
        bom.components.add(component)
    for package in packages:
        node = root if package["name"] == project else components[package["name"] + "@" + package["version"]]
        needs = []
        for dependency in package.get("dependencies", []):
            for version in [dependency["version"]] if "version" in dependency else versions.get(dependency["name"], []):
                target = components.get(dependency["name"] + "@" + version)
                if target is not None:
                    needs.append(Dependency(ref=target.bom_ref))
        bom.dependencies.add(Dependency(ref=node.bom_ref, dependencies=needs))
    return bom_json(bom)


def bom_json(bom: Any) -> str:
    """The BOM as CycloneDX 1.6 JSON, refused unless the library's strict schema accepts it."""
    from cyclonedx.output.json import JsonV1Dot6

    text = str(JsonV1Dot6(bom).output_as_string(indent=2))
    problems = sbom_problems(json.loads(text))
    if problems:
        raise SbomInvalid(f"the SBOM does not validate against CycloneDX 1.6: {problems[0]}")
    return text + "\n"


def locked_components(lock_path: Path) -> dict[str, Any]:
    """``name@version`` -> the component of each package uv.lock pins (with its files' hashes)."""
    lock = tomllib.loads(lock_path.read_text(encoding="utf-8"))
    return {p["name"] + "@" + p["version"]: _component(p) for p in lock["package"]}


@functools.cache
def _validator() -> Any:
    import jsonschema_rs
    from cyclonedx.schema import SchemaVersion, _res

    name = _res.BOM_JSON_STRICT[SchemaVersion.V1_6]
    assert name is not None  # the library ships a strict 1.6 schema
    schema_file = Path(name)

    def retrieve(uri: str) -> Any:  # the schema's $refs: its sibling files in the library
        return json.loads((schema_file.parent / uri.rsplit("/", 1)[-1]).read_text(encoding="utf-8"))

    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, retriever=retrieve, validate_formats=True)


def sbom_problems(document: dict[str, Any]) -> list[str]:
    return [f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in _validator().iter_errors(document)]
