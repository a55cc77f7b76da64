"""The review queue: durable, idempotent per request, encrypted at rest, audited, and honest when down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bentos.classifier.review_queue import (
    ReviewConflict,
    ReviewItem,
    ReviewNotFound,
    ReviewQueue,
    ReviewStoreUnavailable,
)
from slipway.audit import AuditTrail
from slipway.errors import UsageError
from slipway.identity import Forbidden, Identity
from tests.wdbc import WDBC

FEATURES = {"mean_radius": 17.99, "mean_texture": 10.38}


KEY = Fernet.generate_key()


def _who(subject: str, *roles: str) -> Identity:
    """A verified identity, as the access layer hands it to the queue."""
    return Identity("https://idp.example", subject, subject, frozenset(roles or {"reviewer"}), f"jti-{subject}")


def _decide(queue: ReviewQueue, review_id: str, label: str, who: Identity, note: str = "") -> ReviewItem:
    """Claim, then decide at the claimed version (what the API and the CLI do)."""
    claimed = queue.claim(review_id, who=who)
    return queue.resolve(review_id, label=label, reviewer=who, version=claimed.version, note=note)


@pytest.fixture
def queue(tmp_path: Path) -> ReviewQueue:
    """One decision per case (four-eyes review has tests of its own below)."""
    return ReviewQueue(tmp_path / "q" / "queue.db", KEY, contract=WDBC, audit=AuditTrail(tmp_path / "audit.jsonl"),
                       four_eyes=())  # fmt: skip


def _enqueue(queue: ReviewQueue, request_id: str = "req-1", item: int = 0) -> str:
    return queue.enqueue(
        request_id, item, features=FEATURES, prediction="malignant", probability=0.97,
        reasons=["high_stakes"], model_version="v1", model_digest="sha256:" + "a" * 64,
    )  # fmt: skip


def test_enqueue_is_idempotent_per_request_and_item(queue: ReviewQueue) -> None:
    first = _enqueue(queue)
    assert _enqueue(queue) == first
    assert _enqueue(queue, item=1) != first
    assert queue.depth()[0] == 2
    assert queue.audit.verify() == 2  # one audit entry per review created, none for the retry


def test_features_and_notes_are_encrypted_at_rest(queue: ReviewQueue) -> None:
    review_id = _enqueue(queue)
    _decide(queue, review_id, "benign", _who("dr.a"), note="benign on second read")
    raw = queue.path.read_bytes() + b"".join(p.read_bytes() for p in queue.path.parent.glob("queue.db-*"))
    assert b"17.99" not in raw and b"second read" not in raw
    item, features, note = queue.get(review_id, viewer=_who("dr.a"))
    assert features == FEATURES and note == "benign on second read" and item.label == "benign"


def test_resolution_is_audited_without_feature_values(queue: ReviewQueue) -> None:
    review_id = _enqueue(queue)
    _decide(queue, review_id, "benign", _who("dr.a"), note="n")
    entries = [json.loads(line) for line in queue.audit.path.read_text().splitlines()]
    assert [e["event"] for e in entries] == ["review.created", "review.claimed", "review.resolved"]
    assert entries[2]["data"]["request_id"] == "req-1" and entries[2]["data"]["reviewer"] == "dr.a"
    assert entries[2]["data"]["issuer"] == "https://idp.example" and entries[2]["data"]["token_id"] == "jti-dr.a"
    assert "17.99" not in queue.audit.path.read_text()


def test_resolving_twice_or_unknown_reviews_conflict(queue: ReviewQueue) -> None:
    review_id = _enqueue(queue)
    _decide(queue, review_id, "malignant", _who("dr.a"))
    with pytest.raises(ReviewConflict, match=r"already resolved by dr\.a"):
        _decide(queue, review_id, "benign", _who("dr.b"))
    with pytest.raises(ReviewNotFound):
        _decide(queue, "rv-missing", "benign", _who("dr.b"))


def test_pending_oldest_first_and_export_of_resolved(queue: ReviewQueue) -> None:
    ids = [_enqueue(queue, request_id=f"req-{n}") for n in range(3)]
    assert [i.review_id for i in queue.pending()] == ids
    _decide(queue, ids[1], "benign", _who("dr.a"))
    assert [i.review_id for i in queue.pending()] == [ids[0], ids[2]]
    (exported,) = list(queue.resolved_records(exporter=_who("admin.a")))
    assert exported == {"record_id": ids[1], **FEATURES, "diagnosis": "benign"}


def test_survives_reopening(queue: ReviewQueue, tmp_path: Path) -> None:
    review_id = _enqueue(queue)
    reopened = ReviewQueue(queue.path, KEY, contract=WDBC, audit=queue.audit)
    assert [i.review_id for i in reopened.pending()] == [review_id]


def test_an_unwritable_store_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the queue's directory should be")
    queue = ReviewQueue(
        blocker / "queue.db", Fernet.generate_key(), contract=WDBC, audit=AuditTrail(tmp_path / "a.jsonl")
    )
    with pytest.raises(ReviewStoreUnavailable):
        _enqueue(queue)


def test_a_wrong_key_cannot_read_records(queue: ReviewQueue) -> None:
    review_id = _enqueue(queue)
    intruder = ReviewQueue(queue.path, Fernet.generate_key(), contract=WDBC, audit=queue.audit)
    with pytest.raises(ReviewStoreUnavailable, match="cannot be decrypted"):
        intruder.get(review_id, viewer=_who("dr.a"))


def test_concurrent_enqueues_are_group_committed_and_all_durable(queue: ReviewQueue) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(lambda n: _enqueue(queue, request_id=f"req-{n}"), range(200)))
    assert len(set(ids)) == 200
    assert queue.depth()[0] == 200
    assert queue.audit.verify() == 200


def test_backup_then_restore_brings_back_reviews_and_audit_trail(queue: ReviewQueue, tmp_path: Path) -> None:
    kept = _enqueue(queue, "req-kept")
    _decide(queue, kept, "benign", _who("dr.ahmed"))
    pending = _enqueue(queue, "req-pending")
    summary = queue.backup(tmp_path / "backup")
    assert (summary["reviews"], summary["pending"], summary["audit_records"]) == (2, 1, queue.audit.verify())
    _enqueue(queue, "req-after-backup")  # lost by the restore, as restoring means going back in time
    queue.restore(tmp_path / "backup")
    assert [item.review_id for item in queue.pending()] == [pending]
    assert queue.audit.verify() == summary["audit_records"]
    item, features, _ = queue.get(kept, viewer=_who("dr.a"))
    assert item.label == "benign" and features == FEATURES  # still decryptable


def test_restore_refuses_a_damaged_backup_and_keeps_the_queue(queue: ReviewQueue, tmp_path: Path) -> None:
    review = _enqueue(queue)
    queue.backup(tmp_path / "backup")
    (tmp_path / "backup" / "reviews.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsageError, match="not a review queue backup"):
        queue.restore(tmp_path / "backup")
    with pytest.raises(UsageError, match="no backup there"):
        queue.restore(tmp_path / "nothing-here")
    assert [item.review_id for item in queue.pending()] == [review]


def test_every_decryption_for_a_person_is_audited(queue: ReviewQueue) -> None:
    review_id = _enqueue(queue)
    assert queue.describe(review_id).status == "pending"  # metadata only: nothing decrypted, not audited
    queue.get(review_id, viewer=_who("dr.b"))
    _decide(queue, review_id, "benign", _who("dr.b"))
    list(queue.resolved_records(exporter=_who("admin.a")))
    events = [json.loads(line) for line in queue.audit.path.read_text().splitlines()]
    assert [(e["event"], e["data"].get("subject")) for e in events] == [
        ("review.created", None),
        ("review.viewed", "dr.b"),
        ("review.claimed", "dr.b"),
        ("review.resolved", "dr.b"),
        ("review.exported", "admin.a"),
    ]
    assert queue.audit.verify() == 5


def test_only_the_holder_of_a_live_claim_resolves_at_the_claimed_version(queue: ReviewQueue) -> None:
    review_id = _enqueue(queue)
    with pytest.raises(ReviewConflict, match=r"claim review .* first"):
        queue.resolve(review_id, label="benign", reviewer=_who("dr.a"), version=0)
    held = queue.claim(review_id, who=_who("dr.a"))
    assert (held.claimed_by, held.version) == ("dr.a", 1)
    with pytest.raises(ReviewConflict, match=r"claimed by dr\.a"):
        queue.claim(review_id, who=_who("dr.b"))
    with pytest.raises(ReviewConflict, match=r"claim review .* first"):
        queue.resolve(review_id, label="benign", reviewer=_who("dr.b"), version=held.version)
    again = queue.claim(review_id, who=_who("dr.a"))  # renewing one's own claim moves the version on
    with pytest.raises(ReviewConflict, match="changed since you claimed it"):
        queue.resolve(review_id, label="benign", reviewer=_who("dr.a"), version=held.version)
    assert queue.resolve(review_id, label="benign", reviewer=_who("dr.a"), version=again.version).status == "resolved"


def test_an_expired_claim_returns_the_review_to_the_queue(queue: ReviewQueue) -> None:
    review_id = _enqueue(queue)
    lapsed = queue.claim(review_id, who=_who("dr.a"), lease=-1)  # already expired
    taken = queue.claim(review_id, who=_who("dr.b"))
    assert taken.claimed_by == "dr.b"
    with pytest.raises(ReviewConflict, match=r"claim review .* first"):
        queue.resolve(review_id, label="benign", reviewer=_who("dr.a"), version=lapsed.version)


@pytest.fixture
def four_eyes(tmp_path: Path) -> ReviewQueue:
    """The default: cases of the contract's high-stakes class (malignant) need two people."""
    return ReviewQueue(tmp_path / "q4" / "queue.db", KEY, contract=WDBC, audit=AuditTrail(tmp_path / "a4.jsonl"))


def test_a_high_stakes_case_needs_two_different_people_and_agreement(four_eyes: ReviewQueue) -> None:
    review_id = _enqueue(four_eyes)  # predicted malignant
    first = _decide(four_eyes, review_id, "malignant", _who("dr.a"))
    assert (first.status, first.stage, first.first_reviewer) == ("pending", "second", "dr.a")
    with pytest.raises(Forbidden, match="the second must be another's"):
        four_eyes.claim(review_id, who=_who("dr.a", "reviewer", "second-reviewer"))  # self-approval
    with pytest.raises(Forbidden, match="needs one of the roles second-reviewer, admin"):
        four_eyes.claim(review_id, who=_who("dr.b"))  # a plain reviewer cannot give the second decision
    second = _decide(four_eyes, review_id, "malignant", _who("dr.c", "second-reviewer"))
    assert (second.status, second.label, second.reviewer) == ("resolved", "malignant", "dr.c")
    events = [json.loads(line) for line in four_eyes.audit.path.read_text().splitlines()]
    decided = [
        (e["event"], e["data"]["subject"]) for e in events if e["event"] != "review.claimed" and "subject" in e["data"]
    ]
    assert decided == [("review.first_decision", "dr.a"), ("review.resolved", "dr.c")]


def test_a_disagreement_escalates_to_an_admin_who_decided_neither(four_eyes: ReviewQueue) -> None:
    review_id = _enqueue(four_eyes)
    _decide(four_eyes, review_id, "malignant", _who("dr.a"))
    escalated = _decide(four_eyes, review_id, "benign", _who("dr.c", "second-reviewer", "admin"))
    assert (escalated.status, escalated.stage) == ("pending", "escalated")
    with pytest.raises(Forbidden, match="needs one of the roles admin"):
        four_eyes.claim(review_id, who=_who("dr.d", "second-reviewer"))
    with pytest.raises(Forbidden, match="another admin settles the escalation"):
        four_eyes.claim(review_id, who=_who("dr.c", "admin"))
    settled = _decide(four_eyes, review_id, "benign", _who("lead.e", "admin"))
    assert (settled.status, settled.label, settled.reviewer) == ("resolved", "benign", "lead.e")


def test_a_low_stakes_prediction_relabelled_high_stakes_also_needs_a_second_person(four_eyes: ReviewQueue) -> None:
    review_id = four_eyes.enqueue(
        "req-b", 0, features=FEATURES, prediction="benign", probability=0.6, reasons=["low_confidence"],
        model_version="v1", model_digest="sha256:" + "a" * 64,
    )  # fmt: skip
    assert _decide(four_eyes, review_id, "benign", _who("dr.a")).status == "resolved"  # low stakes: one person
    other = four_eyes.enqueue(
        "req-c", 0, features=FEATURES, prediction="benign", probability=0.6, reasons=["low_confidence"],
        model_version="v1", model_digest="sha256:" + "a" * 64,
    )  # fmt: skip
    assert _decide(four_eyes, other, "malignant", _who("dr.a")).stage == "second"


def test_many_reviewers_racing_never_claim_one_review_twice_nor_lose_a_decision(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "race" / "queue.db"
    audit = AuditTrail(tmp_path / "race.jsonl")
    ids = [_enqueue(ReviewQueue(path, KEY, contract=WDBC, audit=audit, four_eyes=()), f"req-{n}") for n in range(40)]

    def work(reviewer: str) -> list[str]:
        mine, queue, who = [], ReviewQueue(path, KEY, contract=WDBC, audit=audit, four_eyes=()), _who(reviewer)
        for review_id in ids:
            try:
                claimed = queue.claim(review_id, who=who)
                queue.resolve(review_id, label="benign", reviewer=who, version=claimed.version)
            except ReviewConflict:
                continue  # someone else holds it or decided it
            mine.append(review_id)
        return mine

    with ThreadPoolExecutor(max_workers=8) as pool:
        decided = list(pool.map(work, [f"dr.{n}" for n in range(8)]))
    everyone = [review_id for mine in decided for review_id in mine]
    assert sorted(everyone) == sorted(ids)  # each decided exactly once, none lost
    queue = ReviewQueue(path, KEY, contract=WDBC, audit=audit, four_eyes=())
    assert queue.depth()[0] == 0 and audit.verify() == 40 * 3  # created, claimed, resolved: one each
