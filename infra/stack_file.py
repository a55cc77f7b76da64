"""Write values into a ``Pulumi.<stack>.yaml`` the way ``pulumi config set`` would, keeping comments.

Only top-level ``slipway:`` keys with scalar or multi-line string values are written; the result
is parsed again and compared, so a file this cannot edit faithfully is refused, never mangled.

Usage::

    set_stack_values(Path("Pulumi.dev.yaml"), {"modelImageDigest": "sha256:...", "modelPublicKey": pem})
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from slipway.errors import UsageError

KEY_LINE = re.compile(r"^  (slipway:[A-Za-z0-9]+):(.*)$")
PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9:/._+=@-]*")  # written unquoted when YAML reads it back as is


def _render(key: str, value: str) -> list[str]:
    if "\n" in value.strip():
        body = value if value.endswith("\n") else value + "\n"
        return [f"  slipway:{key}: |", *(f"    {line}" if line else "" for line in body.splitlines())]
    plain = PLAIN.fullmatch(value) is not None and yaml.safe_load(value) == value
    return [f"  slipway:{key}: {value if plain else json.dumps(value)}"]


def _block_end(lines: list[str], start: int) -> int:
    """Index after the value that starts on ``lines[start]`` (its indented continuation lines)."""
    end = start + 1
    while end < len(lines) and (lines[end].startswith("    ") or lines[end].startswith("  - ") or not lines[end]):
        end += 1
    return end


def set_stack_values(path: Path, values: Mapping[str, str]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no stack file {path}") from None
    lines = text.splitlines()
    if "config:" not in lines:
        raise UsageError(f"{path} has no top-level `config:` section")
    for key, value in values.items():
        found = next(
            (i for i, line in enumerate(lines) if (m := KEY_LINE.match(line)) and m[1] == f"slipway:{key}"), None
        )
        rendered = _render(key, value)
        if found is None:
            lines[lines.index("config:") + 1 : lines.index("config:") + 1] = rendered
        else:
            comment = "" if "\n" in value.strip() else _trailing_comment(lines[found])
            rendered[-1] += comment
            lines[found : _block_end(lines, found)] = rendered
    updated = "\n".join(lines) + "\n"
    parsed: Any = yaml.safe_load(updated)
    config = parsed.get("config", {}) if isinstance(parsed, dict) else {}
    for key, value in values.items():
        if str(config.get(f"slipway:{key}", "")).strip() != value.strip():
            raise UsageError(f"cannot write slipway:{key} into {path} faithfully; set it with `pulumi config set`")
    path.write_text(updated, encoding="utf-8")


def _trailing_comment(line: str) -> str:
    value = line.split(":", 2)[-1]
    if "#" in value and not value.strip().startswith(("'", '"')):
        return "  #" + value.split("#", 1)[1]
    return ""
