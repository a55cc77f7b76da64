"""Helpers for Kubernetes objects that passed through Pulumi's protobuf encoding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def restore_integers(value: Any) -> Any:
    """Undo protobuf's number encoding: integral floats become ints (Kubernetes has no float fields).

    Also turns any Mapping/Sequence (such as Pulumi's property proxies) into plain dicts and lists.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): restore_integers(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [restore_integers(v) for v in value]
    return value
