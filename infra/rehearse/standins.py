"""Rehearsal stand-ins for Secrets: fresh values generated for this run, never real ones.

Keys the kit knows get values of the right shape (Fernet keys, an Ed25519 private key, a DSN);
any other key gets a random token. The values live in the rehearsal's scratch directory only.
"""

from __future__ import annotations

import secrets

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def stand_in(key: str) -> bytes:
    if key.endswith(".key") and key.startswith("signing"):
        private = Ed25519PrivateKey.generate()
        return private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    if key.endswith(".key"):
        return Fernet.generate_key()
    if key == "dsn":
        return b"postgresql://rehearsal:" + secrets.token_hex(8).encode() + b"@127.0.0.1:1/rehearsal"
    return secrets.token_urlsafe(24).encode()


class StandIns:
    """One value per (secret, key) for the whole rehearsal, so every workload sees the same Secret."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], bytes] = {}

    def value(self, secret: str, key: str) -> bytes:
        return self._values.setdefault((secret, key), stand_in(key))

    @property
    def used(self) -> list[str]:
        return sorted(f"{secret}/{key}" for secret, key in self._values)
