"""Who runs a command: the verified subject of ``$SLIPWAY_TOKEN`` (or ``--token-file``), checked
exactly as the server checks a bearer token. Review and promotion commands act as that subject.

Usage::

    identity = command_identity(ADMIN, acting="promotions")
"""

from __future__ import annotations

import os
from pathlib import Path

from slipway.identity.roles import Identity
from slipway.identity.verify import TokenRejected, TokenVerifier


def use_token_file(path: Path | None) -> None:
    """``--token-file``: its token becomes ``$SLIPWAY_TOKEN`` for this command."""
    if path is not None:
        os.environ["SLIPWAY_TOKEN"] = path.read_text(encoding="utf-8").strip()


def command_identity(*roles: str, acting: str = "review commands") -> Identity:
    """The verified identity of ``$SLIPWAY_TOKEN``, holding one of ``roles``."""
    from slipway.identity.settings import AuthSettings

    token = os.environ.get("SLIPWAY_TOKEN", "").strip()
    if not token:
        raise TokenRejected(f"{acting} act as a verified subject: give --token-file or set SLIPWAY_TOKEN")
    trust = AuthSettings().trust()
    if trust is None:
        raise TokenRejected("no identity provider is configured (SLIPWAY_AUTH_ISSUER, or `slipway auth dev-issuer`)")
    identity = TokenVerifier(trust).verify(token)
    identity.require(*roles)
    return identity
