"""Stable UUIDs for evidence documents (version 5, from names): the same inputs give the same
document, and references between documents survive regeneration."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f6c9a5e-3d2b-5c1a-9e47-2b8f0d4c7a11")  # slipway's own, fixed forever


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))
