"""Reading and writing the YAML files the kit keeps (configs, catalog, manifests, rules).

Usage::

    data = read_yaml(path, "pipeline config")   # UsageError naming the file when unreadable
    text = dump_yaml(document)                   # key order kept, multi-line strings as | blocks
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from slipway.errors import UsageError


def read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{what} {path} is not valid YAML: {exc}") from None


class _BlockTextDumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockTextDumper.add_representer(str, _text)


def dump_yaml(document: Any, width: int = 1000) -> str:
    """YAML in the document's own key order, multi-line strings (PromQL, scripts) as literal blocks."""
    return yaml.dump(
        document, Dumper=_BlockTextDumper, sort_keys=False, default_flow_style=False, width=width, allow_unicode=True
    )
