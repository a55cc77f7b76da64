"""The shared review store on PostgreSQL: one queue for every replica (SQLite stays the default for one).

Same interface and the same decision rules (``review_flow``) as the SQLite ``ReviewQueue``. A pool
of psycopg 3 connections; versioned schema migrations applied at start-up under an advisory lock;
``claim_next`` takes the oldest available review with ``FOR UPDATE SKIP LOCKED`` so concurrent
reviewers never block on, or take, the same one; payloads and notes Fernet-encrypted as before.
The hash-chained audit trail lives in the database (``review_audit``) and is appended in the same
transaction as the change it records, under a transaction-level advisory lock, so two replicas can
never fork the chain and no change is ever unaudited.

Usage::

    queue = PostgresReviewQueue("postgresql://slipway@db/reviews", key, contract=contract)
    item = queue.claim_next(who=identity)
    queue.resolve(item.review_id, label=..., reviewer=identity, version=item.version)
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from bentos.classifier.labels import STATISTICS_SQL, LabelStatistics
from bentos.classifier.review_flow import DEFAULT_LEASE, Case, ReviewConflict, claim, decide
from bentos.classifier.review_queue import (
    CASE_COLUMNS,
    ReviewItem,
    ReviewNotFound,
    ReviewStoreUnavailable,
    kind_condition,
    kind_name,
    review_id_for,
)
from bentos.classifier.review_store import NewReview, first_of
from slipway.audit import GENESIS, AuditChainBroken, AuditTrail, _digest, actors_of
from slipway.contract import Contract
from slipway.identity import Identity

BACKUP_REVIEWS = "reviews.jsonl"  # rows as JSON lines (payloads still encrypted, base64)
BACKUP_AUDIT = "reviews.audit.jsonl"  # the same name and format as the SQLite store's backup
MIGRATION_LOCK = 0x51_1B_A7_01  # advisory lock ids: arbitrary constants of this kit
FAIL_FAST_SECONDS = 2.0  # after a connection failure, calls fail at once for this long (then one probes)
PROBE_TIMEOUT_SECONDS = 2
AUDIT_LOCK = 0x51_1B_A7_02
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE reviews (
            review_id text PRIMARY KEY, request_id text NOT NULL, item integer NOT NULL,
            created double precision NOT NULL, status text NOT NULL CHECK (status IN ('pending', 'resolved')),
            prediction text NOT NULL, probability double precision NOT NULL, reasons text NOT NULL,
            model_version text NOT NULL, model_digest text NOT NULL, payload bytea NOT NULL,
            label text, reviewer text, note bytea, resolved double precision,
            stage text NOT NULL DEFAULT 'first', version integer NOT NULL DEFAULT 0,
            claimed_by text, claim_expires double precision, first_label text, first_reviewer text,
            second_label text, second_reviewer text, UNIQUE (request_id, item))""",
        "CREATE INDEX reviews_pending ON reviews (status, created)",
        # data as text, not jsonb: the hash covers the exact JSON (jsonb would renormalise numbers)
        """CREATE TABLE review_audit (
            seq bigint PRIMARY KEY, time text NOT NULL, event text NOT NULL, data text NOT NULL,
            prev text NOT NULL, hash text NOT NULL)""",
    ),
    (  # 2: the random audit sample of automatic decisions (its sampling rate), and labels by model
        "ALTER TABLE reviews ADD COLUMN sample_rate double precision",
        "CREATE INDEX reviews_model ON reviews (model_digest, status)",
    ),
)


class PostgresReviewQueue:
    def __init__(
        self,
        dsn: str,
        key: bytes | None,
        *,
        contract: Contract,
        four_eyes: Collection[str] | None = None,
        pool_size: int = 4,
    ) -> None:
        self.contract = contract
        self.four_eyes = frozenset(contract.label.high_stakes if four_eyes is None else four_eyes)
        self._fernet = Fernet(key) if key is not None else None  # None: audit reading only
        self.audit = DatabaseAudit(self)
        self._dsn, self._pool_size = dsn, pool_size
        self._health = threading.Lock()
        self._down_until: float | None = None  # set while the database is unreachable: fail fast until then
        self._down_reason = ""
        try:
            self._pool = self._open_pool()
            self._pool.wait(timeout=5)
            self._migrate()
        except Exception as exc:  # noqa: BLE001 - any failure to reach or prepare the store is one clear state
            raise ReviewStoreUnavailable(f"review store {_redacted(dsn)} unavailable: {exc}") from None

    def _open_pool(self) -> Any:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        return ConnectionPool(self._dsn, min_size=1, max_size=self._pool_size, open=True, timeout=5,
                              check=ConnectionPool.check_connection,  # a restarted server leaves them broken
                              kwargs={"row_factory": dict_row, "autocommit": False})  # fmt: skip

    def close(self) -> None:
        self._pool.close()

    # -- an unreachable database: a circuit breaker --------------------------------------------------------
    def _mark_down(self, reason: str) -> None:
        with self._health:
            if self._down_until is None:
                self._down_until = time.monotonic() + FAIL_FAST_SECONDS
            self._down_reason = f"{reason} (retried after {FAIL_FAST_SECONDS:.0f} s)"

    def _usable_pool(self) -> Any:
        """The pool, or ReviewStoreUnavailable at once while the database is down. After each
        FAIL_FAST_SECONDS one caller probes with a direct connection; when it answers, a fresh pool
        replaces the old one, whose own reconnection backs off exponentially (1, 2, 4, ... s) and
        would keep writes failing long after the database is back."""
        import psycopg

        with self._health:
            if self._down_until is None:
                return self._pool
            if time.monotonic() < self._down_until:
                raise ReviewStoreUnavailable(self._down_reason)
            self._down_until = time.monotonic() + FAIL_FAST_SECONDS  # the others fail fast while this one probes
        try:
            psycopg.connect(self._dsn, connect_timeout=PROBE_TIMEOUT_SECONDS).close()
        except psycopg.Error as exc:
            self._mark_down(f"review store: {exc}")
            raise ReviewStoreUnavailable(self._down_reason) from None
        with self._health:
            stale, self._pool = self._pool, self._open_pool()
            self._down_until = None
        threading.Thread(target=stale.close, daemon=True).start()  # connections still out close on return
        return self._pool

    def _migrate(self) -> None:
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS slipway_schema (version integer NOT NULL)")
            row: Any = db.execute("SELECT max(version) AS v FROM slipway_schema").fetchone()
            current = int((row or {}).get("v") or 0)
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[version - 1]:
                    db.execute(statement)
                db.execute("INSERT INTO slipway_schema (version) VALUES (%s)", (version,))

    def _transaction(self) -> Any:
        import contextlib

        import psycopg

        @contextlib.contextmanager
        def scope() -> Iterator[Any]:
            pool = self._usable_pool()
            try:
                with pool.connection() as db, db.transaction():
                    yield db
            except psycopg.OperationalError as exc:  # unreachable, refused, no connection within the wait
                self._mark_down(f"review store: {exc}")
                raise ReviewStoreUnavailable(f"review store: {exc}") from None
            except psycopg.Error as exc:
                raise ReviewStoreUnavailable(f"review store: {exc}") from None

        return scope()

    # -- writes --------------------------------------------------------------------------------------------
    def enqueue(self, request_id: str, item: int, **fields: Any) -> str:
        return self.submit(request_id, item, **fields).result()

    def submit(
        self,
        request_id: str,
        item: int,
        *,
        features: dict[str, Any],
        prediction: str,
        probability: float,
        reasons: list[str],
        model_version: str,
        model_digest: str,
        sample_rate: float | None = None,
    ) -> Future[str]:
        """Written (and audited) before the future resolves; idempotent per request and item."""
        review = NewReview(request_id, item, features, prediction, probability, reasons, model_version, model_digest,
                           sample_rate)  # fmt: skip
        return first_of(self.submit_many([review]))

    def submit_many(self, reviews: Sequence[NewReview]) -> Future[list[str]]:
        """All written (and audited) in one transaction before the future resolves."""
        done: Future[list[str]] = Future()
        ids = [review_id_for(review.request_id, review.item) for review in reviews]
        now = time.time()
        try:
            with self._transaction() as db:
                for review_id, review in zip(ids, reviews, strict=True):
                    inserted = db.execute(
                        "INSERT INTO reviews (review_id, request_id, item, created, status, prediction, probability, "
                        "reasons, model_version, model_digest, payload, sample_rate) VALUES (%s, %s, %s, %s, "
                        "'pending', %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (request_id, item) DO NOTHING",
                        review.stored_row(review_id, now, self.fernet),
                    ).rowcount
                    if inserted:
                        self.audit.append_in(db, "review.created", review.audit_record(review_id))
        except ReviewStoreUnavailable as exc:
            done.set_exception(exc)
            return done
        done.set_result(ids)
        return done

    def claim(self, review_id: str, *, who: Identity, lease: float = DEFAULT_LEASE) -> ReviewItem:
        with self._transaction() as db:
            row = self._locked(db, review_id)
            case = claim(_case(row), who, now=time.time(), lease=lease)
            self._save(db, case)
            self.audit.append_in(db, "review.claimed", {"review_id": review_id, "request_id": row["request_id"],
                                 "stage": case.stage, "lease_seconds": lease, **who.audit_fields()})  # fmt: skip
            return _item(self._locked(db, review_id))

    def claim_next(self, *, who: Identity, lease: float = DEFAULT_LEASE) -> ReviewItem | None:
        """The oldest review ``who`` may take now, claimed; None when there is none. Rows another
        transaction holds are skipped, never waited for."""
        from slipway.identity import Forbidden

        now = time.time()
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM reviews WHERE status = 'pending' AND (claimed_by IS NULL OR claim_expires <= %s "
                "OR claimed_by = %s) ORDER BY created, review_id LIMIT 50 FOR UPDATE SKIP LOCKED",
                (now, who.subject),
            ).fetchall()
            for row in rows:
                try:
                    case = claim(_case(row), who, now=now, lease=lease)
                except (Forbidden, ReviewConflict):
                    continue  # a stage this subject may not take (e.g. their own first decision)
                self._save(db, case)
                self.audit.append_in(db, "review.claimed", {"review_id": case.review_id,
                                     "request_id": row["request_id"], "stage": case.stage, "lease_seconds": lease,
                                     **who.audit_fields()})  # fmt: skip
                return _item(self._locked(db, case.review_id))
        return None

    def release(self, review_id: str, *, who: Identity) -> ReviewItem:
        """Give a claimed review back to the queue (a reviewer's "skip")."""
        import dataclasses

        with self._transaction() as db:
            row = self._locked(db, review_id)
            case = _case(row)
            if case.claimed_by != who.subject:
                raise ReviewConflict(f"review {review_id} is not claimed by {who.subject}")
            self._save(db, dataclasses.replace(case, claimed_by=None, claim_expires=None, version=case.version + 1))
            self.audit.append_in(db, "review.released", {"review_id": review_id, "request_id": row["request_id"],
                                                         **who.audit_fields()})  # fmt: skip
            return _item(self._locked(db, review_id))

    def resolve(self, review_id: str, *, label: str, reviewer: Identity, version: int, note: str = "") -> ReviewItem:
        if label not in self.contract.classes:
            raise ReviewConflict(f"label must be one of {list(self.contract.classes)}")
        now = time.time()
        with self._transaction() as db:
            row = self._locked(db, review_id)
            before = _case(row)
            case, event = decide(before, reviewer, label=label, version=version, now=now, four_eyes=self.four_eyes)
            extra: dict[str, Any] = {"note": self.fernet.encrypt(note.encode()) if note else None}
            if case.status == "resolved":
                extra["resolved"] = now
            self._save(db, case, **extra)
            self.audit.append_in(db, event, {
                "review_id": review_id, "request_id": row["request_id"], "label": label, "stage": before.stage,
                "reviewer": reviewer.subject, **reviewer.audit_fields(), "model_prediction": row["prediction"],
                "first_reviewer": case.first_reviewer, "first_label": case.first_label,
                "note_sha256": hashlib.sha256(note.encode()).hexdigest() if note else None})  # fmt: skip
            return _item(self._locked(db, review_id))

    def _locked(self, db: Any, review_id: str) -> dict[str, Any]:
        row: dict[str, Any] | None = db.execute(
            "SELECT * FROM reviews WHERE review_id = %s FOR UPDATE", (review_id,)
        ).fetchone()
        if row is None:
            raise ReviewNotFound(f"no review {review_id}")
        return row

    @staticmethod
    def _save(db: Any, case: Case, **extra: Any) -> None:
        values = {name: getattr(case, name) for name in CASE_COLUMNS if name != "review_id"} | extra
        assignments = ", ".join(f"{name} = %s" for name in values)
        db.execute(f"UPDATE reviews SET {assignments} WHERE review_id = %s", (*values.values(), case.review_id))

    # -- reads ---------------------------------------------------------------------------------------------
    def pending(self, *, limit: int = 50, offset: int = 0) -> list[ReviewItem]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM reviews WHERE status = 'pending' ORDER BY created, review_id "
                              "LIMIT %s OFFSET %s", (limit, offset)).fetchall()  # fmt: skip
        return [_item(row) for row in rows]

    def label_statistics(self, model_digest: str) -> LabelStatistics:
        """What people's labels say about the model ``model_digest`` (``bentos.classifier.labels``)."""
        with self._transaction() as db:
            row = db.execute(STATISTICS_SQL.replace("?", "%s"), (model_digest,)).fetchone()
        return LabelStatistics.of_row(tuple(row.values()))

    def depth(self) -> tuple[int, float]:
        with self._transaction() as db:
            row = db.execute("SELECT count(*) AS n, min(created) AS oldest FROM reviews WHERE status = 'pending'"
                             ).fetchone()  # fmt: skip
        oldest = row["oldest"]
        return int(row["n"]), (time.time() - oldest) if oldest is not None else 0.0

    def describe(self, review_id: str) -> ReviewItem:
        """The review's metadata (state, stage, who holds it); nothing is decrypted, nothing audited."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM reviews WHERE review_id = %s", (review_id,)).fetchone()
        if row is None:
            raise ReviewNotFound(f"no review {review_id}")
        return _item(row)

    def get(self, review_id: str, *, viewer: Identity) -> tuple[ReviewItem, dict[str, Any], str | None]:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM reviews WHERE review_id = %s", (review_id,)).fetchone()
            if row is None:
                raise ReviewNotFound(f"no review {review_id}")
            self.audit.append_in(db, "review.viewed", {"review_id": review_id, "request_id": row["request_id"],
                                                        **viewer.audit_fields()})  # fmt: skip
        note = None if row["note"] is None else self._decrypt(row["note"]).decode()
        return _item(row), json.loads(self._decrypt(row["payload"])), note

    def resolved_records(self, *, exporter: Identity, audit: bool | None = None) -> Iterator[dict[str, Any]]:
        with self._transaction() as db:
            rows = db.execute(f"SELECT * FROM reviews WHERE status = 'resolved'{kind_condition(audit)} "
                              "ORDER BY resolved, review_id").fetchall()  # fmt: skip
            self.audit.append_in(db, "review.exported", {"records": len(rows), "kind": kind_name(audit),
                                                         **exporter.audit_fields()})  # fmt: skip
        for row in rows:
            yield {self.contract.key.field: row["review_id"], **json.loads(self._decrypt(row["payload"])),
                   self.contract.label.field: row["label"]}  # fmt: skip

    def backup(self, directory: Path) -> dict[str, Any]:
        """A consistent copy (one repeatable-read snapshot, safe while replicas write) of the reviews,
        payloads still encrypted, and of the audit trail in the file trail's format, so that
        ``AuditTrail(directory / BACKUP_AUDIT).verify()`` checks it anywhere."""
        directory.mkdir(parents=True, exist_ok=True)
        with self._pool.connection() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            reviews: list[Any] = db.execute("SELECT * FROM reviews ORDER BY created, review_id").fetchall()
            audit: list[Any] = db.execute("SELECT * FROM review_audit ORDER BY seq").fetchall()
        lines = [json.dumps({k: (base64.b64encode(bytes(v)).decode() if isinstance(v, (bytes, memoryview)) else v)
                             for k, v in row.items()}, sort_keys=True) for row in reviews]  # fmt: skip
        _write_atomically(directory / BACKUP_REVIEWS, lines)
        _write_atomically(directory / BACKUP_AUDIT, [json.dumps(_audit_record(r), sort_keys=True, ensure_ascii=False)
                                                     for r in audit])  # fmt: skip
        records = AuditTrail(directory / BACKUP_AUDIT).verify()
        pending = sum(1 for row in reviews if row["status"] == "pending")
        return {"backup": str(directory), "reviews": len(reviews), "pending": pending, "audit_records": records}

    def restore(self, directory: Path) -> dict[str, Any]:
        """Replace the store's reviews and audit trail with a backup, after checking its hash chain
        (in one transaction: the replicas see the old state or the restored one, never a mix)."""
        from slipway.errors import UsageError

        source = directory / BACKUP_REVIEWS
        if not source.exists():
            raise UsageError(f"{source}: no backup of a PostgreSQL review store there (from `slipway review backup`)")
        records = AuditTrail(directory / BACKUP_AUDIT).verify()
        try:
            rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
            audit = [json.loads(line) for line in (directory / BACKUP_AUDIT).read_text(encoding="utf-8").splitlines()
                     if line.strip()]  # fmt: skip
        except (OSError, ValueError) as exc:
            raise UsageError(f"{directory}: not a review store backup ({exc})") from None
        with self._transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
            db.execute("TRUNCATE reviews, review_audit")
            for row in rows:
                for column in ("payload", "note"):
                    if row.get(column) is not None:
                        row[column] = base64.b64decode(row[column])
                names = list(row)
                db.execute(f"INSERT INTO reviews ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                           [row[n] for n in names])  # fmt: skip
            insert = "INSERT INTO review_audit (seq, time, event, data, prev, hash) VALUES (%s, %s, %s, %s, %s, %s)"
            for record in audit:
                data = json.dumps(record["data"], sort_keys=True, ensure_ascii=False)
                db.execute(
                    insert, (record["seq"], record["time"], record["event"], data, record["prev"], record["hash"])
                )
        return {"reviews": len(rows), "audit_records": records}

    @property
    def fernet(self) -> Fernet:
        if self._fernet is None:
            raise ReviewStoreUnavailable("this review store handle was opened without the review key")
        return self._fernet

    def _decrypt(self, blob: bytes) -> bytes:
        try:
            return self.fernet.decrypt(bytes(blob))
        except InvalidToken:
            raise ReviewStoreUnavailable("a review record cannot be decrypted with the configured key") from None


class DatabaseAudit:
    """The review audit trail in ``review_audit``: the same records and hash chain as the file trail."""

    def __init__(self, queue: PostgresReviewQueue) -> None:
        self.queue = queue

    def append_in(self, db: Any, event: str, data: dict[str, Any]) -> None:
        db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))  # one writer at a time: no forked chain
        last = db.execute("SELECT seq, hash FROM review_audit ORDER BY seq DESC LIMIT 1").fetchone()
        previous, seq = (last["hash"], last["seq"]) if last else (GENESIS, 0)
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        record = {"seq": seq + 1, "time": now, "event": event, "data": data, "prev": previous}
        digest = _digest(previous, record)
        text = json.dumps(data, sort_keys=True, ensure_ascii=False)
        db.execute("INSERT INTO review_audit (seq, time, event, data, prev, hash) VALUES (%s, %s, %s, %s, %s, %s)",
                   (seq + 1, now, event, text, previous, digest))  # fmt: skip

    def records(self) -> list[dict[str, Any]]:
        with self.queue._transaction() as db:
            rows = db.execute("SELECT * FROM review_audit ORDER BY seq").fetchall()
        return [_audit_record(r) for r in rows]

    @property
    def path(self) -> str:
        return "review_audit (PostgreSQL review store)"

    def actors(self) -> list[dict[str, Any]]:
        return actors_of(self.records())

    def verify(self) -> int:
        previous, count = GENESIS, 0
        for record in self.records():
            claimed = record.pop("hash")
            if record["prev"] != previous or _digest(previous, record) != claimed or record["seq"] != count + 1:
                raise AuditChainBroken(
                    f"review_audit seq {record['seq']}: hash chain broken (altered, removed or moved)"
                )
            previous, count = claimed, count + 1
        return count


def _audit_record(row: dict[str, Any]) -> dict[str, Any]:
    return {"seq": row["seq"], "time": row["time"], "event": row["event"], "data": json.loads(row["data"]),
            "prev": row["prev"], "hash": row["hash"]}  # fmt: skip


def _write_atomically(path: Path, lines: list[str]) -> None:
    staged = path.with_name(f".{path.name}.partial")
    staged.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    staged.replace(path)


def _case(row: dict[str, Any]) -> Case:
    return Case(**{name: row[name] for name in CASE_COLUMNS})


def _item(row: dict[str, Any]) -> ReviewItem:
    return ReviewItem(
        review_id=row["review_id"], request_id=row["request_id"], item=row["item"], created=row["created"],
        status=row["status"], prediction=row["prediction"], probability=row["probability"],
        reasons=json.loads(row["reasons"]), model_version=row["model_version"], model_digest=row["model_digest"],
        label=row["label"], reviewer=row["reviewer"], resolved=row["resolved"], stage=row["stage"],
        version=row["version"], claimed_by=row["claimed_by"], claim_expires=row["claim_expires"],
        first_reviewer=row["first_reviewer"], sample_rate=row["sample_rate"],
    )  # fmt: skip


def _redacted(dsn: str) -> str:
    """The DSN without its password (it must never reach a log or an error)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn
