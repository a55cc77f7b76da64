"""Read manifests from files, directories and stdin: multi-document YAML, JSON, ``List`` objects.

Each YAML document is parsed on its own (libyaml's C loader), so a malformed document is reported
with its file and line and every other document is still checked. Directories are read
recursively in name order; hidden files and folders (``.slipway-render``, ``.git``) are skipped.

Usage::

    objects, problems = load_paths(["build/manifests", "extra.yaml"])
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from policies.model import InputProblem, SourceObject

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_DOCUMENT_START = re.compile(r"^---[ \t]*(#.*)?$|^--- ", re.MULTILINE)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def iter_sources(paths: Iterable[str]) -> Iterator[SourceObject | InputProblem]:
    """Objects and problems, file by file: only one file's objects are alive at a time."""
    for given in paths:
        for display, text, problem in _read(given):
            if problem is not None:
                yield problem
                continue
            assert text is not None
            parsed, parse_problems = parse_text(text, display)
            del text
            yield from parsed
            yield from parse_problems


def load_paths(paths: Iterable[str]) -> tuple[list[SourceObject], list[InputProblem]]:
    objects: list[SourceObject] = []
    problems: list[InputProblem] = []
    for item in iter_sources(paths):
        (problems if isinstance(item, InputProblem) else objects).append(item)  # type: ignore[arg-type]
    return objects, problems


def _read(given: str) -> Iterator[tuple[str, str | None, InputProblem | None]]:
    if given == "-":
        yield "-", sys.stdin.read(), None
        return
    path = Path(given)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in MANIFEST_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            yield given, None, InputProblem(given, 0, "directory holds no .yaml, .yml or .json file")
        for file in files:
            yield from _read_file(file, str(file))
        return
    yield from _read_file(path, given)


def _read_file(path: Path, display: str) -> Iterator[tuple[str, str | None, InputProblem | None]]:
    try:
        yield display, path.read_text(encoding="utf-8-sig"), None
    except FileNotFoundError:
        yield display, None, InputProblem(display, 0, "no such file or directory")
    except UnicodeDecodeError:
        yield display, None, InputProblem(display, 0, "not UTF-8 text")
    except OSError as exc:
        yield display, None, InputProblem(display, 0, f"cannot read: {exc.strerror}")


def parse_text(text: str, file: str) -> tuple[list[SourceObject], list[InputProblem]]:
    """Objects and problems of one file's text (JSON when it starts like JSON, else YAML)."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if file.lower().endswith(".json"):
                return [], [InputProblem(file, exc.lineno, f"invalid JSON: {exc.msg}")]
        else:
            return _objects(data, file, 1)
    objects: list[SourceObject] = []
    problems: list[InputProblem] = []
    for line, document in split_documents(text):
        first = line + 1 if document.startswith("---") and document[3:4] in ("\n", "\r", "", " ", "#") else line
        try:
            data = yaml.load(document, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = line + (mark.line if mark is not None else 0)
            reason = getattr(exc, "problem", None) or str(exc)
            problems.append(InputProblem(file, where, f"invalid YAML: {reason}"))
            continue
        if data is None:
            continue
        found, bad = _objects(data, file, first)
        objects.extend(found)
        problems.extend(bad)
    return objects, problems


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """(1-based first line, text) of each YAML document, split at ``---`` markers."""
    start, line = 0, 1
    for match in _DOCUMENT_START.finditer(text):
        if match.start() > start:
            yield line, text[start : match.start()]
        line = text.count("\n", 0, match.start()) + 1
        start = match.start()
    yield line, text[start:]


def _objects(data: Any, file: str, line: int) -> tuple[list[SourceObject], list[InputProblem]]:
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict) and str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        items = data["items"]
    else:
        items = [data]
    objects: list[SourceObject] = []
    problems: list[InputProblem] = []
    for item in items:
        if not isinstance(item, dict) or not item.get("apiVersion") or not item.get("kind"):
            problems.append(InputProblem(file, line, "not a Kubernetes object (needs apiVersion and kind)"))
            continue
        metadata = item.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("name"):
            problems.append(InputProblem(file, line, f"{item['kind']} has no metadata.name"))
            continue
        objects.append(SourceObject(item, file, line))
    return objects, problems
