"""Ed25519 signing of model artifacts, and the key files that go with it.

Keys live under ``$SLIPWAY_KEYS`` (default ``$SLIPWAY_HOME/keys``; in a cluster a read-only volume
projected from the keys Secret and the public-key ConfigMap): ``signing.key`` (PKCS#8 PEM, mode 0600, never logged),
``signing.pub`` (the public key the model server is configured with), and ``retired/`` (earlier
public keys, kept so that older artifacts stay verifiable). ``review.key`` is the Fernet key that
encrypts review-queue records at rest.

Usage::

    keys = KeyStore.default()
    keys.generate()                            # first time
    signature = keys.sign(digest_bytes)        # at training
    verify(keys.public_key_path, digest_bytes, signature)   # at start-up; raises SignatureInvalid
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from slipway.audit import slipway_home
from slipway.errors import SlipwayError, UsageError


def keys_dir() -> Path:
    """``$SLIPWAY_KEYS``, else ``$SLIPWAY_HOME/keys``."""
    configured = os.environ.get("SLIPWAY_KEYS")
    return Path(configured) if configured else slipway_home() / "keys"


class KeyFileError(UsageError):
    """A key is missing, unreadable or not what it claims to be."""


class SignatureInvalid(SlipwayError):
    """The signature does not match the data under the given public key."""


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


@dataclass(frozen=True)
class KeyStore:
    root: Path

    @classmethod
    def default(cls) -> KeyStore:
        return cls(keys_dir())

    @property
    def private_key_path(self) -> Path:
        return self.root / "signing.key"

    @property
    def public_key_path(self) -> Path:
        return self.root / "signing.pub"

    @property
    def review_key_path(self) -> Path:
        return self.root / "review.key"

    @property
    def data_key_path(self) -> Path:
        """Fernet key encrypting quarantined pipeline rows at rest."""
        return self.root / "data.key"

    def generate(self, *, force: bool = False) -> Path:
        """Create the signing key pair and the review key; refuses to overwrite without ``force``."""
        if self.private_key_path.exists() and not force:
            raise KeyFileError(f"{self.private_key_path} exists; use `slipway keys rotate` to replace it")
        if force:
            self._retire()
        key = Ed25519PrivateKey.generate()
        _write_private(
            self.private_key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        self.public_key_path.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        for path in (self.review_key_path, self.data_key_path):
            if not path.exists():
                _write_private(path, Fernet.generate_key())
        return self.public_key_path

    def rotate(self) -> Path:
        """Retire the current pair (its public key stays in ``retired/``) and create a new one."""
        if not self.private_key_path.exists():
            raise KeyFileError(f"no signing key at {self.private_key_path}; run `slipway keys generate` first")
        return self.generate(force=True)

    def _retire(self) -> None:
        if not self.public_key_path.exists():
            return
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        retired = self.root / "retired"
        retired.mkdir(parents=True, exist_ok=True)
        self.public_key_path.rename(retired / f"signing-{stamp}.pub")
        self.private_key_path.unlink()

    def _private_key(self) -> Ed25519PrivateKey:
        try:
            key = serialization.load_pem_private_key(self.private_key_path.read_bytes(), password=None)
        except FileNotFoundError:
            raise KeyFileError(f"no signing key at {self.private_key_path}; run `slipway keys generate`") from None
        except ValueError:
            raise KeyFileError(f"{self.private_key_path} is not a PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{self.private_key_path} is not an Ed25519 key")
        return key

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self._private_key().sign(data)).decode("ascii")

    def signing_fingerprint(self) -> str:
        """Fingerprint of the key that signs (from the private key: the public file may be another's)."""
        raw = self._private_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def review_key(self) -> bytes:
        try:
            return self.review_key_path.read_bytes().strip()
        except FileNotFoundError:
            raise KeyFileError(f"no review key at {self.review_key_path}; run `slipway keys generate`") from None

    def fingerprint(self) -> str:
        return public_key_fingerprint(self.public_key_path)

    def public_pem(self) -> str:
        load_public_key(self.public_key_path)  # refuse anything that is not an Ed25519 public key
        return self.public_key_path.read_text(encoding="ascii")


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise KeyFileError(f"no public key at {path}") from None
    except ValueError:
        raise KeyFileError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return key


def public_key_fingerprint(path: Path) -> str:
    raw = load_public_key(path).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def verify(public_key: Path, data: bytes, signature: str) -> None:
    key = load_public_key(public_key)
    try:
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError):
        raise SignatureInvalid("signature does not match the artifact under the configured public key") from None
