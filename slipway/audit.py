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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway.errors import SlipwayError

GENESIS = "0" * 64


class AuditChainBroken(SlipwayError):
    """A record was altered, removed or reordered."""


def slipway_home() -> Path:
    return Path(os.environ.get("SLIPWAY_HOME", ".slipway"))


def _digest(previous: str, record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditTrail:
    path: Path

    @classmethod
    def for_name(cls, name: str) -> AuditTrail:
        return cls(slipway_home() / "audit" / f"{name}.jsonl")

    def append(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            lines = [line for line in handle.read().splitlines() if line.strip()]
            previous = json.loads(lines[-1])["hash"] if lines else GENESIS
            record = {
                "seq": len(lines) + 1,
                "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "event": event,
                "data": data,
                "prev": previous,
            }
            record["hash"] = _digest(previous, record)
            handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return record

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
