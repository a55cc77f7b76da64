"""The PostgreSQL review store against a real PostgreSQL: the same rules as SQLite, one audit
chain in the database, and concurrent reviewers that never take the same review."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bentos.classifier.review_flow import ReviewConflict
from bentos.classifier.review_store_pg import PostgresReviewQueue
from slipway.identity import Forbidden, Identity
from tests.bentos.conftest import Trained, record
from tests.bentos.server import running
from tests.conftest import BENTOML_HOME
from tests.postgres import postgres_server
from tests.wdbc import WDBC

pytestmark = pytest.mark.slow
KEY = Fernet.generate_key()
FEATURES = {"mean_radius": 17.99, "mean_texture": 10.38}


def _who(subject: str, *roles: str) -> Identity:
    return Identity("https://idp.example", subject, subject, frozenset(roles or {"reviewer"}), f"jti-{subject}")


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def store(dsn: str) -> Iterator[PostgresReviewQueue]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:  # a fresh schema per test
        db.execute("DROP TABLE IF EXISTS reviews, review_audit, slipway_schema")
    queue = PostgresReviewQueue(dsn, KEY, contract=WDBC, pool_size=10)
    yield queue
    queue.close()


def _enqueue(queue: PostgresReviewQueue, request_id: str = "req-1", prediction: str = "malignant") -> str:
    return queue.enqueue(request_id, 0, features=FEATURES, prediction=prediction, probability=0.97,
                         reasons=["high_stakes"], model_version="v1", model_digest="sha256:" + "a" * 64)  # fmt: skip


def test_enqueue_is_idempotent_encrypted_and_audited_in_the_database(store: PostgresReviewQueue, dsn: str) -> None:
    import psycopg

    first = _enqueue(store)
    assert _enqueue(store) == first and store.depth()[0] == 1
    with psycopg.connect(dsn) as db:
        payload = db.execute("SELECT payload FROM reviews").fetchone()[0]  # type: ignore[index]
    assert b"17.99" not in bytes(payload)
    item, features, _ = store.get(first, viewer=_who("dr.a"))
    assert features == FEATURES and item.prediction == "malignant"
    assert [r["event"] for r in store.audit.records()] == ["review.created", "review.viewed"]
    assert store.audit.verify() == 2
    assert store.describe(first).status == "pending" and store.audit.verify() == 2  # metadata: not audited


def test_four_eyes_and_claims_follow_the_same_rules_as_sqlite(store: PostgresReviewQueue) -> None:
    review_id = _enqueue(store)
    claimed = store.claim(review_id, who=_who("dr.a"))
    with pytest.raises(ReviewConflict, match=r"claimed by dr\.a"):
        store.claim(review_id, who=_who("dr.b"))
    first = store.resolve(review_id, label="malignant", reviewer=_who("dr.a"), version=claimed.version)
    assert (first.stage, first.first_reviewer) == ("second", "dr.a")
    with pytest.raises(Forbidden, match="the second must be another's"):
        store.claim(review_id, who=_who("dr.a", "second-reviewer"))
    second = store.claim(review_id, who=_who("dr.c", "second-reviewer"))
    done = store.resolve(review_id, label="malignant", reviewer=_who("dr.c", "second-reviewer"), version=second.version)
    assert (done.status, done.reviewer) == ("resolved", "dr.c")
    events = [(r["event"], r["data"].get("subject")) for r in store.audit.records()]
    assert ("review.first_decision", "dr.a") in events and ("review.resolved", "dr.c") in events
    assert store.audit.verify() == len(events)


def test_a_tampered_audit_record_breaks_the_chain(store: PostgresReviewQueue, dsn: str) -> None:
    import psycopg

    from slipway.audit import AuditChainBroken

    _enqueue(store, "req-a")
    _enqueue(store, "req-b")
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("UPDATE review_audit SET data = %s WHERE seq = 1", (json.dumps({"review_id": "forged"}),))
    with pytest.raises(AuditChainBroken, match="seq 1"):
        store.audit.verify()


def test_many_reviewers_on_one_database_never_take_one_review_twice(store: PostgresReviewQueue, dsn: str) -> None:
    ids = {_enqueue(store, f"req-{n}", prediction="benign") for n in range(60)}

    def work(reviewer: str) -> list[str]:
        queue = PostgresReviewQueue(dsn, KEY, contract=WDBC, pool_size=2)  # as another replica would
        who, mine = _who(reviewer), []
        try:
            while (item := queue.claim_next(who=who)) is not None:
                queue.resolve(item.review_id, label="benign", reviewer=who, version=item.version)
                mine.append(item.review_id)
        finally:
            queue.close()
        return mine

    with ThreadPoolExecutor(max_workers=8) as pool:
        decided = [review_id for mine in pool.map(work, [f"dr.{n}" for n in range(8)]) for review_id in mine]
    assert sorted(decided) == sorted(ids)  # every review decided exactly once, none lost
    assert store.depth()[0] == 0
    assert store.audit.verify() == 60 * 3  # created, claimed, resolved: one chain, never forked


def test_two_real_servers_on_one_database_share_one_queue_under_many_reviewers(
    dsn: str, trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import random

    import httpx
    import psycopg

    from slipway.identity.dev_issuer import DevIssuer

    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS reviews, review_audit, slipway_schema")
    root = tmp_path_factory.mktemp("replicas")
    issuer = DevIssuer(root / "issuer")
    with issuer.serving() as issuer_url, contextlib.ExitStack() as stack:
        servers = []
        for name in ("a", "b"):  # two replicas: each its own home, one database, one issuer
            home = root / name
            shutil.copytree(trained.keys_dir, home / "keys")
            env = {**os.environ, "SLIPWAY_HOME": str(home), "BENTOML_HOME": str(BENTOML_HOME),
                   "SLIPWAY_MODEL": trained.tag, "SLIPWAY_REVIEW_QUEUE": dsn, "SLIPWAY_SERVER_REPLICAS": "2",
                   "SLIPWAY_REVIEW_FOUR_EYES": "false", "SLIPWAY_AUTH_ISSUER": issuer_url,
                   "SLIPWAY_AUTH_JWKS_URL": f"{issuer_url}/jwks.json"}  # fmt: skip
            servers.append(stack.enter_context(running(env, home / "server.log")))
        for server in servers:
            server.wait_until_up("/readyz")
        for n in range(40):
            answer = httpx.post(f"{servers[n % 2].url}/predict", json={"record": record(0), "request_id": f"req-{n}"},
                                timeout=30).json()  # fmt: skip
            assert answer["results"][0]["decision"] == "review"
        reviewers = [issuer.mint(f"dr.{n}", ["reviewer"]) for n in range(8)]

        def work(token: str) -> list[str]:
            headers, rng = {"Authorization": f"Bearer {token}"}, random.Random(token)
            mine: list[str] = []
            while True:
                server = rng.choice(servers)
                items = httpx.post(f"{server.url}/review/pending", json={"limit": 100}, headers=headers,
                                   timeout=30).json()["items"]  # fmt: skip
                free = [i for i in items if i["claimed_by"] is None]
                if not items:
                    return mine
                if not free:
                    continue
                target = rng.choice(free)["review_id"]
                claim = httpx.post(f"{rng.choice(servers).url}/review/claim", json={"review_id": target},
                                   headers=headers, timeout=30)  # fmt: skip
                if claim.status_code == 409:
                    continue  # another reviewer was faster: never both
                assert claim.status_code == 200, claim.text
                decision = {"review_id": target, "label": "malignant", "version": claim.json()["version"]}
                done = httpx.post(f"{rng.choice(servers).url}/review/resolve", json=decision, headers=headers,
                                  timeout=30)  # fmt: skip
                assert done.status_code == 200 and done.json()["status"] == "resolved", done.text
                mine.append(target)

        with ThreadPoolExecutor(max_workers=8) as pool:
            decided = [review_id for mine in pool.map(work, reviewers) for review_id in mine]
    assert len(decided) == 40 == len(set(decided))  # each review decided once, by exactly one reviewer
    store = PostgresReviewQueue(dsn, KEY, contract=WDBC)
    try:
        records = store.audit.records()
        assert store.audit.verify() == len(records) == 40 * 3  # created, claimed, resolved; one unforked chain
        resolved = [r["data"] for r in records if r["event"] == "review.resolved"]
        assert sorted(r["review_id"] for r in resolved) == sorted(decided)
        assert {r["subject"] for r in resolved} <= {f"dr.{n}" for n in range(8)}
    finally:
        store.close()


def test_backup_then_restore_brings_back_reviews_and_the_audit_chain(
    store: PostgresReviewQueue, tmp_path: Path
) -> None:
    from slipway.audit import AuditTrail

    kept = _enqueue(store, "req-kept", prediction="benign")
    claimed = store.claim(kept, who=_who("dr.a"))
    store.resolve(kept, label="benign", reviewer=_who("dr.a"), version=claimed.version, note="fine")
    pending = _enqueue(store, "req-pending")
    summary = store.backup(tmp_path / "backup")
    assert (summary["reviews"], summary["pending"], summary["audit_records"]) == (2, 1, store.audit.verify())
    assert AuditTrail(tmp_path / "backup" / "reviews.audit.jsonl").verify() == summary["audit_records"]
    assert b"fine" not in (tmp_path / "backup" / "reviews.jsonl").read_bytes()  # notes stay encrypted
    _enqueue(store, "req-after-backup")  # lost by the restore: restoring goes back in time
    restored = store.restore(tmp_path / "backup")
    assert restored == {"reviews": 2, "audit_records": summary["audit_records"]}
    assert [item.review_id for item in store.pending()] == [pending]
    item, features, note = store.get(kept, viewer=_who("dr.a"))
    assert item.label == "benign" and features == FEATURES and note == "fine"
    assert store.audit.verify() == summary["audit_records"] + 1  # the chain goes on from the backup's


def test_restore_refuses_a_backup_whose_chain_is_broken(store: PostgresReviewQueue, tmp_path: Path) -> None:
    from slipway.audit import AuditChainBroken

    review = _enqueue(store)
    store.backup(tmp_path / "backup")
    trail = tmp_path / "backup" / "reviews.audit.jsonl"
    trail.write_text(trail.read_text().replace("malignant", "benign"))
    with pytest.raises(AuditChainBroken):
        store.restore(tmp_path / "backup")
    assert [item.review_id for item in store.pending()] == [review]  # nothing replaced


def test_the_cli_verifies_the_databases_audit_chain_and_names_who_decided(
    store: PostgresReviewQueue, dsn: str, tmp_path: Path
) -> None:
    import subprocess

    from tests.conftest import SLIPWAY

    review = _enqueue(store, prediction="benign")
    claimed = store.claim(review, who=_who("dr.pg"))
    store.resolve(review, label="benign", reviewer=_who("dr.pg"), version=claimed.version)
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path / "home"), "SLIPWAY_REVIEW_QUEUE": dsn}
    done = subprocess.run([SLIPWAY, "audit", "verify", "reviews"], env=env, capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["records"] == 3 and report["trail"].startswith("review_audit")
    assert {"event": "review.resolved", "issuer": "https://idp.example", "subject": "dr.pg", "records": 1} in (
        report["actors"]
    )


def test_claim_next_skips_a_case_its_first_reviewer_may_not_take_and_release_returns_it(
    store: PostgresReviewQueue,
) -> None:
    high = _enqueue(store, "req-high")  # malignant: four eyes
    first = store.claim(high, who=_who("dr.a"))
    store.resolve(high, label="malignant", reviewer=_who("dr.a"), version=first.version)
    assert store.claim_next(who=_who("dr.a", "second-reviewer")) is None  # only their own first decision waits
    taken = store.claim_next(who=_who("dr.b", "second-reviewer"))
    assert taken is not None and taken.review_id == high
    released = store.release(high, who=_who("dr.b", "second-reviewer"))
    assert released.claimed_by is None
    with pytest.raises(ReviewConflict, match="not claimed by"):
        store.release(high, who=_who("dr.b", "second-reviewer"))


def test_label_statistics_come_from_the_shared_database_as_from_sqlite(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS reviews, review_audit, slipway_schema")
    store = PostgresReviewQueue(dsn, KEY, contract=WDBC, four_eyes=())
    try:
        digest, who = "sha256:" + "a" * 64, _who("dr.a")
        for i, (label, rate) in enumerate([("benign", 0.5), ("malignant", 0.5), ("benign", None)]):
            review_id = store.enqueue(f"req-{i}", 0, features=FEATURES, prediction="benign", probability=0.8,
                                      reasons=["audit"] if rate else ["low_confidence"], model_version="v1",
                                      model_digest=digest, sample_rate=rate)  # fmt: skip
            claimed = store.claim(review_id, who=who)
            store.resolve(review_id, label=label, reviewer=who, version=claimed.version)
        stats = store.label_statistics(digest)
        assert (stats.audit_labelled, stats.audit_weight, stats.audit_accuracy) == (2, 4.0, 0.5)
        assert (stats.routed_labelled, stats.routed_correct) == (1, 1)
        assert abs(stats.routed_expected_variance - 0.16) < 1e-9
        assert store.describe(review_id).sample_rate is None
    finally:
        store.close()


def test_a_stopped_database_fails_fast_and_the_store_recovers_when_it_is_back() -> None:
    """The drill break-review-store found /predict waiting the pool's timeout once per routed record
    (and the scrape, which reads the queue, timing out with it). After a connection failure the
    store now answers at once for a moment; broken pooled connections are checked out of use."""
    import tempfile
    import time

    from bentos.classifier.review_queue import ReviewStoreUnavailable
    from slipway.local_postgres import LocalPostgres

    root = Path(tempfile.mkdtemp(prefix="slipway-pg-"))  # the postgres user must reach it (not pytest's tmp_path)
    try:
        with LocalPostgres(root) as database:
            queue = PostgresReviewQueue(database.dsn, KEY, contract=WDBC)
            _enqueue(queue, "before")
            database.stop()
            with pytest.raises(ReviewStoreUnavailable) as first:
                _enqueue(queue, "during")
            with pytest.raises(ReviewStoreUnavailable) as second:
                queue.depth()
            assert "retried after" not in str(first.value) and "retried after" in str(second.value)
            database.start()
            deadline = time.monotonic() + 60
            while True:  # the pool reconnects by itself; nothing is restarted
                try:
                    _enqueue(queue, "after")
                    break
                except ReviewStoreUnavailable:
                    assert time.monotonic() < deadline, "the store never recovered"
                    time.sleep(0.2)
            assert queue.depth()[0] == 2 and queue.audit.verify() == 2
            queue.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
