"""Hash-chained audit trails: appends chain, and any edit, removal or reordering is detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slipway.audit import AuditChainBroken, AuditTrail


@pytest.fixture
def trail(tmp_path: Path) -> AuditTrail:
    trail = AuditTrail(tmp_path / "audit" / "t.jsonl")
    for index in range(3):
        trail.append("event", {"n": index})
    return trail


def test_records_chain_and_verify(trail: AuditTrail) -> None:
    assert trail.verify() == 3
    records = [json.loads(line) for line in trail.path.read_text().splitlines()]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[1]["prev"] == records[0]["hash"]


def test_an_edited_record_breaks_the_chain(trail: AuditTrail) -> None:
    lines = trail.path.read_text().splitlines()
    lines[1] = lines[1].replace('"n": 1', '"n": 7')
    trail.path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AuditChainBroken, match=r"t.jsonl:2: hash chain broken"):
        trail.verify()


def test_a_removed_record_breaks_the_chain(trail: AuditTrail) -> None:
    lines = trail.path.read_text().splitlines()
    trail.path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(AuditChainBroken, match=":2:"):
        trail.verify()


def test_reordered_records_break_the_chain(trail: AuditTrail) -> None:
    lines = trail.path.read_text().splitlines()
    trail.path.write_text("\n".join([lines[1], lines[0], lines[2]]) + "\n")
    with pytest.raises(AuditChainBroken, match=":1:"):
        trail.verify()


def test_a_missing_trail_has_no_records(tmp_path: Path) -> None:
    assert AuditTrail(tmp_path / "none.jsonl").verify() == 0


@pytest.mark.parametrize("size", [10, 3_000, 5_000, 20_000, 50_000])
def test_records_of_any_size_up_to_the_tail_chain_on(tmp_path: Path, size: int) -> None:
    """The last record is found with one small read when it is small, and by reading further back
    when it is not (a record longer than the first read, or one spanning several reads)."""
    trail = AuditTrail(tmp_path / "t.jsonl")
    trail.append("event", {"n": 0})
    trail.append("event", {"note": "x" * size})
    trail.append_many([("event", {"n": 2}), ("event", {"note": "y" * size})])
    trail.append("event", {"n": 4})
    assert trail.verify() == 5
    assert [r["seq"] for r in trail.records()] == [1, 2, 3, 4, 5]


def test_an_unreadable_last_record_is_refused_not_extended(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "t.jsonl")
    trail.append("event", {"n": 0})
    with trail.path.open("ab") as handle:
        handle.write(b'{"seq": 2, "trunc')
    with pytest.raises(AuditChainBroken, match="last record is unreadable"):
        trail.append("event", {"n": 1})
