"""The signed statement: every file by SHA-256, a DSSE envelope under the kit's Ed25519 key; any
change to a file, the file list, the payload or the signature fails verification."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from evidence.statement import ENVELOPE, EvidenceTampered, pae, verify_envelope, write_envelope
from slipway.signing import KeyStore


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, KeyStore]:
    keys = KeyStore(tmp_path / "keys")
    keys.generate()
    folder = tmp_path / "evidence"
    (folder / "reference").mkdir(parents=True)
    (folder / "assessment-results.json").write_text('{"assessment-results": {}}')
    (folder / "reference" / "catalog.json").write_text("{}")
    write_envelope(folder, keys, {"stack": "dev"})
    return folder, keys


def test_pae_is_the_dsse_encoding() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"  # the DSSE specification's own example
    )


def test_a_signed_folder_verifies_and_names_every_file(signed: tuple[Path, KeyStore]) -> None:
    folder, keys = signed
    statement = verify_envelope(folder, keys.public_key_path)
    assert [s["name"] for s in statement["subject"]] == ["assessment-results.json", "reference/catalog.json"]
    assert statement["predicate"] == {"stack": "dev"}


@pytest.mark.parametrize("tamper", ["edit", "remove", "add", "payload", "other-key"])
def test_any_change_fails(signed: tuple[Path, KeyStore], tamper: str, tmp_path: Path) -> None:
    folder, keys = signed
    public_key = keys.public_key_path
    if tamper == "edit":
        (folder / "assessment-results.json").write_text('{"assessment-results": {"x": 1}}')
    elif tamper == "remove":
        (folder / "reference" / "catalog.json").unlink()
    elif tamper == "add":
        (folder / "extra.json").write_text("{}")
    elif tamper == "payload":
        envelope = json.loads((folder / ENVELOPE).read_text())
        body = json.loads(base64.b64decode(envelope["payload"]))
        body["subject"] = body["subject"][:1]
        envelope["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
        (folder / ENVELOPE).write_text(json.dumps(envelope))
    else:
        other = KeyStore(tmp_path / "other")
        other.generate()
        public_key = other.public_key_path
    with pytest.raises(EvidenceTampered):
        verify_envelope(folder, public_key)
