"""Ed25519 keys: generate, sign, verify, rotate; wrong key or altered data never verifies."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from slipway.signing import KeyFileError, KeyStore, SignatureInvalid, verify


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path / "keys")
    store.generate()
    return store


def test_private_keys_are_private(store: KeyStore) -> None:
    for path in (store.private_key_path, store.review_key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE" not in store.public_key_path.read_bytes()


def test_sign_and_verify(store: KeyStore) -> None:
    signature = store.sign(b"sha256:abc")
    verify(store.public_key_path, b"sha256:abc", signature)
    with pytest.raises(SignatureInvalid):
        verify(store.public_key_path, b"sha256:abd", signature)


def test_another_key_does_not_verify(store: KeyStore, tmp_path: Path) -> None:
    other = KeyStore(tmp_path / "other")
    other.generate()
    with pytest.raises(SignatureInvalid):
        verify(other.public_key_path, b"data", store.sign(b"data"))


def test_generate_refuses_to_overwrite_and_rotate_retires(store: KeyStore) -> None:
    with pytest.raises(KeyFileError, match="use `slipway keys rotate`"):
        store.generate()
    old_public = store.public_key_path.read_bytes()
    signature = store.sign(b"data")
    store.rotate()
    (retired,) = (store.root / "retired").iterdir()
    assert retired.read_bytes() == old_public
    verify(retired, b"data", signature)  # old artifacts stay verifiable with the retired key
    with pytest.raises(SignatureInvalid):
        verify(store.public_key_path, b"data", signature)


def test_missing_keys_are_clear_errors(tmp_path: Path) -> None:
    empty = KeyStore(tmp_path / "none")
    with pytest.raises(KeyFileError, match="run `slipway keys generate`"):
        empty.sign(b"x")
    with pytest.raises(KeyFileError, match="no public key"):
        verify(empty.public_key_path, b"x", "AAAA")
    with pytest.raises(KeyFileError, match="run `slipway keys generate` first"):
        empty.rotate()
