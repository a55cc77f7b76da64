"""Pulumi.yaml describes every setting with its type, default and meaning, in step with the model."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic.alias_generators import to_camel

from infra.config import StackSettings
from tests.conftest import PROJECT_DIR

PULUMI_TYPES = {str: "string", int: "integer", bool: "boolean"}


def _pulumi_type(annotation: Any) -> str | None:
    """The Pulumi project type of a field, or None for structured values (lists of objects)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _pulumi_type(args[0])
    if origin is tuple:
        return "array" if args[0] is str else None
    if origin in (Union, UnionType):
        return _pulumi_type(next(a for a in args if a is not type(None)))
    if origin is Literal:
        return "string"
    return PULUMI_TYPES[annotation]


def test_every_setting_is_declared_or_described() -> None:
    text = (PROJECT_DIR / "Pulumi.yaml").read_text()
    declared = yaml.safe_load(text)["config"]
    for name, field in StackSettings.model_fields.items():
        key = to_camel(name)
        kind = _pulumi_type(field.annotation)
        if kind is None:
            assert f"# slipway:{key}  list of" in text, f"{key}: structured key not described in Pulumi.yaml"
            assert key not in declared
            continue
        assert key in declared, f"{key} missing from Pulumi.yaml config"
        declaration = declared[key]
        assert declaration["type"] == kind, key
        assert declaration.get("description"), key
        if field.is_required() or field.default is None:
            assert "default" not in declaration, key
        else:
            default = list(field.default) if isinstance(field.default, tuple) else field.default
            assert declaration["default"] == default, f"{key}: Pulumi.yaml default differs from infra/config.py"
    assert set(declared) <= {to_camel(n) for n in StackSettings.model_fields}, "Pulumi.yaml declares unknown keys"
