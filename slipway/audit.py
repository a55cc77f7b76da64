"""Append-only, hash-chained audit trails under ``$SLIPWAY_HOME/audit/``.

Each line is a JSON record whose ``hash`` is SHA-256 over the previous record's hash and the
record's canonical JSON, so editing, reordering or deleting any earlier line breaks the chain and
:func:`verify` says where. Appends take an exclusive lock, so concurrent writers stay ordered.

Usage::

    trail = AuditTrail.for_name("exemptions")
    trail.append("exemption.used", {"rule": "network.service-exposure", "approver": "..."})
    trail.verify()          # raises AuditChainBroken naming the first bad line
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway.errors import SlipwayError

GENESIS = "0" * 64


class AuditChainBroken(SlipwayError):
    """A record was altered, removed or reordered."""


def slipway_home() -> Path:
    return Path(os.environ.get("SLIPWAY_HOME", ".slipway"))


TAIL_BYTES = 1 << 16  # records are small; the last one is always within this tail
FIRST_READ = 4096  # most records are a few hundred bytes: one small read finds the last one


def _last_record(handle: Any) -> dict[str, Any] | None:
    """The last record of the trail, read from its tail (appends stay O(1) as the trail grows)."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return None
    window = FIRST_READ
    while True:
        start = max(0, size - window)
        handle.seek(start)
        tail = handle.read().rstrip()
        cut = tail.rfind(b"\n")
        if cut >= 0 or start == 0 or window >= TAIL_BYTES:  # the last line is whole (or as whole as it gets)
            break
        window *= 4
    try:
        record: dict[str, Any] = json.loads(tail[cut + 1 :])
        return record
    except ValueError:
        raise AuditChainBroken(f"{handle.name}: the last record is unreadable; refusing to extend the chain") from None


def _digest(previous: str, record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


def actors_of(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (event, issuer, subject) with its count: the verified subjects who acted."""
    counts: dict[tuple[str, str, str], int] = {}
    for record in records:
        data = record.get("data") or {}
        if "subject" in data:
            key = (str(record["event"]), str(data.get("issuer", "")), str(data["subject"]))
            counts[key] = counts.get(key, 0) + 1
    return [{"event": e, "issuer": i, "subject": s, "records": n} for (e, i, s), n in sorted(counts.items())]


@dataclass(frozen=True)
class AuditTrail:
    path: Path

    @classmethod
    def for_name(cls, name: str) -> AuditTrail:
        return cls(slipway_home() / "audit" / f"{name}.jsonl")

    def append(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.append_many([(event, data)])[0]

    def append_many(self, events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Append several records under one lock and one fsync (group commit)."""
        if not events:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        records = []
        with self.path.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            last = _last_record(handle)
            previous = last["hash"] if last else GENESIS
            seq = last["seq"] if last else 0
            now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            lines = []
            for event, data in events:
                seq += 1
                record = {"seq": seq, "time": now, "event": event, "data": data, "prev": previous}
                record["hash"] = previous = _digest(previous, record)
                records.append(record)
                lines.append(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            handle.write("".join(lines).encode())
            handle.flush()
            os.fsync(handle.fileno())
        return records

    def records(self) -> list[dict[str, Any]]:
        """Every record, oldest first (read after ``verify``: they are then unaltered)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def actors(self) -> list[dict[str, Any]]:
        """Who did what, by verified subject (read after ``verify``: the records are then unaltered)."""
        return actors_of(self.records())

    def verify(self) -> int:
        """Number of records; raises AuditChainBroken at the first record that does not chain."""
        if not self.path.exists():
            return 0
        previous = GENESIS
        count = 0
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                claimed = record.pop("hash")
            except (json.JSONDecodeError, KeyError, AttributeError):
                raise AuditChainBroken(f"{self.path}:{number}: not an audit record") from None
            if record.get("prev") != previous or _digest(previous, record) != claimed:
                raise AuditChainBroken(f"{self.path}:{number}: hash chain broken (record altered, removed or moved)")
            if record.get("seq") != count + 1:
                raise AuditChainBroken(f"{self.path}:{number}: sequence {record.get('seq')} where {count + 1} expected")
            previous, count = claimed, count + 1
        return count


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def append_signed(trail: AuditTrail, keys: Any, event: str, data: dict[str, Any]) -> dict[str, Any]:
    """Append a record whose data is signed with ``keys`` (a ``slipway.signing.KeyStore``): the
    chain shows nothing was removed or moved, the signature that the kit's key wrote it."""
    signed = {**data, "signed_by": keys.signing_fingerprint()}
    signed["record_signature"] = keys.sign(_canonical(signed))
    return trail.append(event, signed)


def verify_signed(trail: AuditTrail, public_key: Path) -> int:
    """How many records carry a valid signature; raise SignatureInvalid at the first that does not."""
    from slipway.signing import SignatureInvalid, verify

    records = trail.records()
    for record in records:
        data = dict(record["data"])
        signature = data.pop("record_signature", None)
        where = f"{trail.path} record {record['seq']} ({record['event']})"
        if not isinstance(signature, str):
            raise SignatureInvalid(f"{where} is not signed")
        try:
            verify(public_key, _canonical(data), signature)
        except SignatureInvalid:
            raise SignatureInvalid(
                f"{where}: its signature does not verify under the trusted public key (altered, or another key)"
            ) from None
    return len(records)
