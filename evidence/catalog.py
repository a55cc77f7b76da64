"""NIST SP 800-53 rev 5 as the evidence is checked against it: the HIGH and PRIVACY baselines'
resolved catalogs (``evidence/reference/``, unmodified NIST files with their SHA-256 pinned), their
control ids, titles and assessment-objective ids.

Usage::

    catalog = Catalog.load()
    catalog.control("nist-800-53:AC-6(1)")     # "ac-6.1" (KeyError when no baseline selects it)
    catalog.objective("ac-6")                  # "ac-6_obj", the control's own assessment objective
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parent / "reference"
CATALOGS = {
    "NIST_SP-800-53_rev5_HIGH-baseline-resolved-profile_catalog-min.json":
        "1cc0e575f7754a23cf5748cb375cb5b316ac32610ef5ce5633c174e345bfe014",
    "NIST_SP-800-53_rev5_PRIVACY-baseline-resolved-profile_catalog-min.json":
        "307ccc17aa16803bf5892138f95129f60a4e9ef6e306b793af18bea0ec731c7f",
}  # fmt: skip
SCHEMA = ("oscal_complete_schema-1.2.3.json", "384324105c7a817af0f65b120a963146caa0e0d55d969cf0daf60e063b87a206")
MAPPING = re.compile(r"^nist-800-53:([A-Z]{2})-(\d+)(?:\((\d+)\))?$")


class ReferenceChanged(RuntimeError):
    pass


def reference_file(name: str, sha256: str, directory: Path = REFERENCE) -> Path:
    """A vendored NIST file, refused when its bytes are not the ones pinned."""
    path = directory / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ReferenceChanged(f"{path} has SHA-256 {digest}, not the pinned {sha256}")
    return path


@dataclass(frozen=True)
class Control:
    id: str  # "ac-6.1"
    title: str
    baselines: tuple[str, ...]
    objectives: tuple[str, ...]  # "ac-6.1_obj" first, then its sub-objectives


class Catalog:
    def __init__(self, controls: dict[str, Control], sources: dict[str, str]) -> None:
        self.controls, self.sources = controls, sources

    @classmethod
    @functools.cache
    def load(cls) -> Catalog:
        controls: dict[str, Control] = {}
        sources: dict[str, str] = {}
        for name, sha256 in CATALOGS.items():
            document = json.loads(reference_file(name, sha256).read_text(encoding="utf-8"))["catalog"]
            baseline = "PRIVACY" if "PRIVACY" in name else "HIGH"
            sources[baseline] = name
            for control in _walk(document.get("groups", [])):
                known = controls.get(control["id"])
                objectives = tuple(_objectives(control.get("parts", [])))
                baselines = (*known.baselines, baseline) if known else (baseline,)
                controls[control["id"]] = Control(control["id"], control["title"], baselines, objectives)
        return cls(controls, sources)

    def control(self, mapping: str) -> str:
        """The catalog id of a ``nist-800-53:XX-n(m)`` mapping; KeyError when no baseline has it."""
        match = MAPPING.match(mapping)
        if match is None:
            raise KeyError(f"{mapping} is not a nist-800-53 control mapping")
        family, number, enhancement = match.groups()
        control = f"{family.lower()}-{number}" + (f".{enhancement}" if enhancement else "")
        if control not in self.controls:
            raise KeyError(f"{control} is in neither the HIGH nor the PRIVACY baseline")
        return control

    def objective(self, control: str) -> str:
        """The control's own assessment objective (``<id>_obj``)."""
        objectives = self.controls[control].objectives
        own = f"{control}_obj"
        return own if own in objectives else objectives[0]


def _walk(groups: list[dict[str, Any]]) -> Any:
    for group in groups:
        for control in group.get("controls", []):
            yield from _controls(control)


def _controls(control: dict[str, Any]) -> Any:
    yield control
    for enhancement in control.get("controls", []):
        yield from _controls(enhancement)


def _objectives(parts: list[dict[str, Any]]) -> Any:
    for part in parts:
        if part.get("name") == "assessment-objective" and "id" in part:
            yield part["id"]
        yield from _objectives(part.get("parts", []))
