"""The evidence folder, signed: an in-toto Statement (v1) whose subjects are every file in the folder
by SHA-256, in a DSSE envelope signed with the kit's Ed25519 key (``slipway keys``), and its check.

DSSE signs the pre-authentication encoding ``PAE(type, body)`` =
``"DSSEv1" SP len(type) SP type SP len(body) SP body`` (https://github.com/secure-systems-lab/dsse),
so neither the payload nor its type can be swapped.

Usage::

    write_envelope(folder, KeyStore.default())        # folder / "statement.dsse.json"
    verify_envelope(folder, public_key)                # raises EvidenceTampered on any change
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from slipway.errors import SlipwayError
from slipway.signing import KeyStore, SignatureInvalid, public_key_fingerprint, verify

ENVELOPE = "statement.dsse.json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slipway.dev/evidence/v1"


class EvidenceTampered(SlipwayError):
    pass


def pae(payload_type: str, body: bytes) -> bytes:
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def _files(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ENVELOPE
    }


def statement(folder: Path, predicate: dict[str, Any]) -> dict[str, Any]:
    return {"_type": STATEMENT_TYPE,
            "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in _files(folder).items()],
            "predicateType": PREDICATE_TYPE, "predicate": predicate}  # fmt: skip


def write_envelope(folder: Path, keys: KeyStore, predicate: dict[str, Any]) -> Path:
    body = json.dumps(statement(folder, predicate), sort_keys=True, separators=(",", ":")).encode("utf-8")
    signature = {"keyid": keys.signing_fingerprint(), "sig": keys.sign(pae(PAYLOAD_TYPE, body))}
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode("ascii"),
        "signatures": [signature],
    }
    path = folder / ENVELOPE
    path.write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
    return path


def verify_envelope(folder: Path, public_key: Path) -> dict[str, Any]:
    """The verified statement; EvidenceTampered when the signature, a hash or the file list differs."""
    try:
        envelope = json.loads((folder / ENVELOPE).read_text(encoding="utf-8"))
        body = base64.b64decode(envelope["payload"], validate=True)
        (signature,) = envelope["signatures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvidenceTampered(f"{folder / ENVELOPE}: not a readable DSSE envelope ({exc})") from None
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise EvidenceTampered(f"payload type {envelope.get('payloadType')!r}, expected {PAYLOAD_TYPE}")
    if signature.get("keyid") != public_key_fingerprint(public_key):
        raise EvidenceTampered(
            f"signed by {signature.get('keyid')}, not by the key {public_key_fingerprint(public_key)}"
        )
    try:
        verify(public_key, pae(PAYLOAD_TYPE, body), str(signature.get("sig", "")))
    except SignatureInvalid:
        raise EvidenceTampered("the statement's signature does not verify: it was changed after signing") from None
    signed = json.loads(body)
    expected = {s["name"]: s["digest"]["sha256"] for s in signed["subject"]}
    actual = _files(folder)
    changed = sorted(n for n in expected.keys() & actual.keys() if expected[n] != actual[n])
    missing, added = sorted(expected.keys() - actual.keys()), sorted(actual.keys() - expected.keys())
    if changed or missing or added:
        raise EvidenceTampered("; ".join(part for part in (
            f"changed: {', '.join(changed)}" if changed else "", f"missing: {', '.join(missing)}" if missing else "",
            f"not signed: {', '.join(added)}" if added else "") if part))  # fmt: skip
    result: dict[str, Any] = signed
    return result
