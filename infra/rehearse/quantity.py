"""Kubernetes quantities (``256Mi``, ``250m``) as numbers, via the Kubernetes client's parser."""

from __future__ import annotations

from kubernetes.utils.quantity import parse_quantity


def quantity(value: object) -> float:
    """``quantity("256Mi") == 268435456.0``; ``quantity("250m") == 0.25``."""
    return float(parse_quantity(str(value)))  # type: ignore[no-untyped-call]
