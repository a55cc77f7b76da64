"""The durable review queue: SQLite in WAL mode, records encrypted at rest, every change audited.

A routed decision is written before its answer is returned (``enqueue`` is idempotent per request
id and item, so a retried request never creates a second review). Feature values and reviewer
notes are encrypted with the Fernet key from configuration; the audit trail
(``$SLIPWAY_HOME/audit/reviews.jsonl``, hash-chained) records ids, reasons, labels and reviewers,
never feature values.

Usage::

    queue = ReviewQueue(Path(".slipway/review/queue.db"), key, contract=contract)
    review_id = queue.enqueue(request_id, 0, features={...}, prediction=contract.classes[0], ...)
    item = queue.claim(review_id, who=identity)                  # the review is theirs for the lease
    queue.resolve(review_id, label=contract.classes[1], reviewer=identity, version=item.version, note="...")
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import queue
import shutil
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from bentos.classifier.labels import STATISTICS_SQL, LabelStatistics
from bentos.classifier.review_flow import DEFAULT_LEASE, FIRST, Case, ReviewConflict, claim, decide
from bentos.classifier.review_store import NewReview, first_of

__all__ = ["ReviewConflict", "ReviewItem", "ReviewNotFound", "ReviewQueue", "ReviewStoreUnavailable"]
from slipway.audit import AuditTrail
from slipway.contract import Contract
from slipway.errors import SlipwayError, UsageError
from slipway.identity import Identity

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    review_id     TEXT PRIMARY KEY,
    request_id    TEXT NOT NULL,
    item          INTEGER NOT NULL,
    created       REAL NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'resolved')),
    prediction    TEXT NOT NULL,
    probability   REAL NOT NULL,
    reasons       TEXT NOT NULL,
    model_version TEXT NOT NULL,
    model_digest  TEXT NOT NULL,
    payload       BLOB NOT NULL,
    label         TEXT,
    reviewer      TEXT,
    note          BLOB,
    resolved      REAL,
    UNIQUE (request_id, item)
);
CREATE INDEX IF NOT EXISTS reviews_pending ON reviews (status, created);
"""
# Versioned migrations (PRAGMA user_version): each step runs once, in order, in one transaction.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (),  # 1: the table above
    (  # 2: claims with a lease, a version, and the two decisions of four-eyes review
        "ALTER TABLE reviews ADD COLUMN stage TEXT NOT NULL DEFAULT 'first'",
        "ALTER TABLE reviews ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE reviews ADD COLUMN claimed_by TEXT",
        "ALTER TABLE reviews ADD COLUMN claim_expires REAL",
        "ALTER TABLE reviews ADD COLUMN first_label TEXT",
        "ALTER TABLE reviews ADD COLUMN first_reviewer TEXT",
        "ALTER TABLE reviews ADD COLUMN second_label TEXT",
        "ALTER TABLE reviews ADD COLUMN second_reviewer TEXT",
    ),
    (  # 3: the random audit sample of automatic decisions (its sampling rate), and labels by model
        "ALTER TABLE reviews ADD COLUMN sample_rate REAL",
        "CREATE INDEX IF NOT EXISTS reviews_model ON reviews (model_digest, status)",
    ),
)
CASE_COLUMNS = ("review_id", "status", "prediction", "stage", "version", "claimed_by", "claim_expires", "first_label",
                "first_reviewer", "second_label", "second_reviewer", "label", "reviewer")  # fmt: skip
GROUP_LIMIT = 64  # reviews per transaction (a job of more is stored whole)
_Job = tuple[list[tuple[object, ...]], list[dict[str, Any]], "Future[list[str]]"]


class ReviewStoreUnavailable(SlipwayError):
    """The queue cannot be written (disk, permissions, corruption); no routed decision may be final."""


class ReviewNotFound(SlipwayError):
    exit_code = 1


@dataclass(frozen=True)
class ReviewItem:
    review_id: str
    request_id: str
    item: int
    created: float
    status: str
    prediction: str
    probability: float  # the calibrated probability of the predicted class (its confidence)
    reasons: list[str]
    model_version: str
    model_digest: str
    label: str | None
    reviewer: str | None
    resolved: float | None
    stage: str = FIRST  # first | second (four eyes: another person confirms) | escalated (they disagreed)
    version: int = 0
    claimed_by: str | None = None
    claim_expires: float | None = None
    first_reviewer: str | None = None
    sample_rate: float | None = None  # an audit case: drawn at this rate from automatic decisions

    @property
    def audit(self) -> bool:
        return self.sample_rate is not None

    def summary(self) -> dict[str, Any]:
        return {
            "review_id": self.review_id,
            "request_id": self.request_id,
            "item": self.item,
            "status": self.status,
            "created": self.created,
            "prediction": self.prediction,
            "probability": self.probability,
            "reasons": self.reasons,
            "model_version": self.model_version,
            "label": self.label,
            "reviewer": self.reviewer,
            "resolved": self.resolved,
            "stage": self.stage,
            "version": self.version,
            "claimed_by": self.claimed_by,
            "claim_expires": self.claim_expires,
            "first_reviewer": self.first_reviewer,
            "sample_rate": self.sample_rate,
        }


def kind_condition(audit: bool | None) -> str:
    """The SQL condition (both stores) that keeps audit cases, routed cases, or both."""
    return "" if audit is None else " AND sample_rate IS NOT NULL" if audit else " AND sample_rate IS NULL"


def kind_name(audit: bool | None) -> str:
    return "all" if audit is None else "audit" if audit else "routed"


def review_id_for(request_id: str, item: int) -> str:
    return "rv-" + hashlib.sha256(f"{request_id}\0{item}".encode()).hexdigest()[:20]


def _replace_by_copy(source: Path, target: Path) -> None:
    """Copy ``source`` beside ``target``, then rename it over ``target``: never a half-written target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, staged)
    staged.replace(target)


def _migrate(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN IMMEDIATE")  # one process migrates; the others then see the new version
    try:
        current = connection.execute("PRAGMA user_version").fetchone()[0] or 1
        for version in range(current + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[version - 1]:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {version}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


BACKUP_DB = "reviews.db"
BACKUP_AUDIT = "reviews.audit.jsonl"


class ReviewQueue:
    def __init__(
        self,
        path: Path,
        key: bytes,
        *,
        contract: Contract,
        audit: AuditTrail | None = None,
        four_eyes: Collection[str] | None = None,
    ) -> None:
        """``contract``: its classes are the labels a reviewer may give; its key and label field name the
        columns of exported records. ``four_eyes``: classes whose cases two people decide (default: the
        contract's high-stakes classes; empty: one decision suffices)."""
        self.path = path
        self.contract = contract
        self.four_eyes = frozenset(contract.label.high_stakes if four_eyes is None else four_eyes)
        self._fernet = Fernet(key)
        self.audit = audit or AuditTrail.for_name("reviews")
        self._local = threading.local()
        self._writer_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job] | None = None

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")  # a routed decision is on disk before it is answered
            connection.executescript(SCHEMA)
            _migrate(connection)
        except (OSError, sqlite3.Error) as exc:
            raise ReviewStoreUnavailable(f"review queue {self.path} cannot be opened: {exc}") from None
        return connection

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (opened once); dropped after an error so the next call reconnects."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._open()
        try:
            connection.row_factory = None
            yield connection
        except sqlite3.Error as exc:
            self._local.connection = None
            connection.close()
            raise ReviewStoreUnavailable(f"review queue {self.path}: {exc}") from None

    def backup(self, directory: Path) -> dict[str, Any]:
        """A consistent copy of the queue (SQLite's online backup: safe while the server writes) and of
        its audit trail, into ``directory`` (``reviews.db``, ``reviews.audit.jsonl``)."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / BACKUP_DB
        temporary = directory / f".{BACKUP_DB}.partial"
        temporary.unlink(missing_ok=True)
        with self._connect() as db:
            copy = sqlite3.connect(temporary)
            try:
                db.backup(copy)
                pending = copy.execute("SELECT count(*) FROM reviews WHERE status = 'pending'").fetchone()[0]
                total = copy.execute("SELECT count(*) FROM reviews").fetchone()[0]
            finally:
                copy.close()
        temporary.replace(target)
        audit_copy = directory / BACKUP_AUDIT
        records = 0
        if self.audit.path.exists():
            shutil.copyfile(self.audit.path, audit_copy)
            records = AuditTrail(audit_copy).verify()
        return {"backup": str(directory), "reviews": total, "pending": pending, "audit_records": records}

    def restore(self, directory: Path) -> dict[str, Any]:
        """Replace the queue and its audit trail with a backup, after checking both. Stop every server
        that uses the queue first (scale the Deployment to 0): a running server keeps the old file open."""
        source = directory / BACKUP_DB
        if not source.exists():
            raise UsageError(f"{source}: no backup there (expected {BACKUP_DB} from `slipway review backup`)")
        check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
            total = check.execute("SELECT count(*) FROM reviews").fetchone()[0]
        except sqlite3.Error as exc:
            raise UsageError(f"{source}: not a review queue backup ({exc})") from None
        finally:
            check.close()
        if verdict != "ok":
            raise UsageError(f"{source}: integrity check failed ({verdict}); choose an older backup")
        audit_source = directory / BACKUP_AUDIT
        records = AuditTrail(audit_source).verify() if audit_source.exists() else 0
        self.close()
        for suffix in ("-wal", "-shm"):  # the replaced database's journal must not be replayed onto the backup
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        _replace_by_copy(source, self.path)
        if audit_source.exists():
            _replace_by_copy(audit_source, self.audit.path)
        return {"restored": str(self.path), "reviews": total, "audit_records": records}

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def enqueue(self, request_id: str, item: int, **fields: Any) -> str:
        """Durably queue a review and return its id once it is on disk (idempotent per request and item)."""
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
        """Queue a review; the future resolves to its id once it is on disk (or fails with
        ReviewStoreUnavailable). ``sample_rate``: an audit case, drawn at that rate from automatic
        decisions."""
        review = NewReview(request_id, item, features, prediction, probability, reasons, model_version, model_digest,
                           sample_rate)  # fmt: skip
        return first_of(self.submit_many([review]))

    def submit_many(self, reviews: Sequence[NewReview]) -> Future[list[str]]:
        """Queue several reviews; the future resolves to their ids once all are on disk. Concurrent
        submissions are group-committed: one writer thread stores every waiting review in one
        transaction and one audit append (two fsyncs per group)."""
        now = time.time()
        rows: list[tuple[object, ...]] = []
        audits = []
        for review in reviews:
            review_id = review_id_for(review.request_id, review.item)
            rows.append(review.stored_row(review_id, now, self._fernet))
            audits.append(review.audit_record(review_id))
        pending: Future[list[str]] = Future()
        self._writer().put((rows, audits, pending))
        return pending

    def _writer(self) -> queue.SimpleQueue[_Job]:
        with self._writer_lock:
            if self._jobs is None:
                self._jobs = queue.SimpleQueue()
                threading.Thread(target=self._write_loop, args=(self._jobs,), name="review-writer", daemon=True).start()
            return self._jobs

    def _write_loop(self, jobs: queue.SimpleQueue[_Job]) -> None:
        while True:
            group = [jobs.get()]
            size = len(group[0][0])
            while size < GROUP_LIMIT:
                try:
                    group.append(jobs.get_nowait())
                except queue.Empty:
                    break
                size += len(group[-1][0])
            rows = [row for job in group for row in job[0]]
            audits = [audit for job in group for audit in job[1]]
            try:
                created = self._store(rows)
                self.audit.append_many([("review.created", a) for a, new in zip(audits, created, strict=True) if new])
            except Exception as exc:  # noqa: BLE001 - every waiter must learn the outcome, whatever it was
                failure = exc if isinstance(exc, ReviewStoreUnavailable) else ReviewStoreUnavailable(str(exc))
                for _, _, waiter in group:
                    waiter.set_exception(failure)
                continue
            for job_rows, _, waiter in group:
                waiter.set_result([str(row[0]) for row in job_rows])

    def _store(self, rows: list[tuple[object, ...]]) -> list[bool]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            created = []
            for row in rows:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO reviews (review_id, request_id, item, created, status, prediction,"
                    " probability, reasons, model_version, model_digest, payload, sample_rate)"
                    " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                created.append(cursor.rowcount == 1)
            db.execute("COMMIT")
        return created

    def _row(self, db: sqlite3.Connection, review_id: str) -> sqlite3.Row:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
        if row is None:
            raise ReviewNotFound(f"no review {review_id}")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _item(row: sqlite3.Row) -> ReviewItem:
        return ReviewItem(
            review_id=row["review_id"],
            request_id=row["request_id"],
            item=row["item"],
            created=row["created"],
            status=row["status"],
            prediction=row["prediction"],
            probability=row["probability"],
            reasons=json.loads(row["reasons"]),
            model_version=row["model_version"],
            model_digest=row["model_digest"],
            label=row["label"],
            reviewer=row["reviewer"],
            resolved=row["resolved"],
            stage=row["stage"],
            version=row["version"],
            claimed_by=row["claimed_by"],
            claim_expires=row["claim_expires"],
            first_reviewer=row["first_reviewer"],
            sample_rate=row["sample_rate"],
        )

    @staticmethod
    def _case(row: sqlite3.Row) -> Case:
        return Case(**{name: row[name] for name in CASE_COLUMNS})

    @staticmethod
    def _save(db: sqlite3.Connection, case: Case, **extra: Any) -> None:
        values = {name: getattr(case, name) for name in CASE_COLUMNS if name != "review_id"} | extra
        assignments = ", ".join(f"{name} = ?" for name in values)
        db.execute(f"UPDATE reviews SET {assignments} WHERE review_id = ?", (*values.values(), case.review_id))

    def pending(self, *, limit: int = 50, offset: int = 0) -> list[ReviewItem]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM reviews WHERE status = 'pending' ORDER BY created, review_id LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [self._item(row) for row in rows]

    def describe(self, review_id: str) -> ReviewItem:
        """The review's metadata (state, stage, who holds it); nothing is decrypted, nothing audited."""
        with self._connect() as db:
            return self._item(self._row(db, review_id))

    def get(self, review_id: str, *, viewer: Identity) -> tuple[ReviewItem, dict[str, Any], str | None]:
        """The item, its decrypted features and note; the decryption for ``viewer`` is audited."""
        with self._connect() as db:
            row = self._row(db, review_id)
        item = self._item(row)
        features, note = self._decrypt(row["payload"]), self._decrypt_note(row["note"])
        self.audit.append("review.viewed", {"review_id": review_id, "request_id": item.request_id,
                                            **viewer.audit_fields()})  # fmt: skip
        return item, features, note

    def claim(self, review_id: str, *, who: Identity, lease: float = DEFAULT_LEASE) -> ReviewItem:
        """Take the review for ``lease`` seconds (see ``review_flow``); answer with its version."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                case = claim(self._case(self._row(db, review_id)), who, now=time.time(), lease=lease)
                self._save(db, case)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            claimed = self._item(self._row(db, review_id))
        event = {
            "review_id": review_id,
            "request_id": claimed.request_id,
            "stage": claimed.stage,
            "lease_seconds": lease,
        }
        self.audit.append("review.claimed", {**event, **who.audit_fields()})
        return claimed

    def claim_next(self, *, who: Identity, lease: float = DEFAULT_LEASE) -> ReviewItem | None:
        """The oldest review ``who`` may take now, claimed; None when there is none."""
        from slipway.identity import Forbidden

        now = time.time()
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT review_id FROM reviews WHERE status = 'pending' AND (claimed_by IS NULL OR claim_expires <= ? "
                "OR claimed_by = ?) ORDER BY created, review_id LIMIT 50",
                (now, who.subject),
            ).fetchall()
        for row in rows:
            try:
                return self.claim(row["review_id"], who=who, lease=lease)
            except (Forbidden, ReviewConflict):
                continue  # a stage this subject may not take, or someone was faster
        return None

    def release(self, review_id: str, *, who: Identity) -> ReviewItem:
        """Give a claimed review back to the queue (a reviewer's "skip")."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                case = self._case(self._row(db, review_id))
                if case.claimed_by != who.subject:
                    raise ReviewConflict(f"review {review_id} is not claimed by {who.subject}")
                self._save(db, dataclasses.replace(case, claimed_by=None, claim_expires=None, version=case.version + 1))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            released = self._item(self._row(db, review_id))
        self.audit.append("review.released", {"review_id": review_id, "request_id": released.request_id,
                                              **who.audit_fields()})  # fmt: skip
        return released

    def resolve(self, review_id: str, *, label: str, reviewer: Identity, version: int, note: str = "") -> ReviewItem:
        """Record ``reviewer``'s decision on the review they claimed at ``version``. A high-stakes case
        needs a second person (``four_eyes``); the audit trail names the verified subject of each."""
        if label not in self.contract.classes:
            raise ReviewConflict(f"label must be one of {list(self.contract.classes)}")
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                before = self._case(self._row(db, review_id))
                case, event = decide(before, reviewer, label=label, version=version, now=now, four_eyes=self.four_eyes)
                extra: dict[str, Any] = {"note": self._fernet.encrypt(note.encode()) if note else None}
                if case.status == "resolved":
                    extra["resolved"] = now
                self._save(db, case, **extra)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            decided = self._item(self._row(db, review_id))
        self.audit.append(
            event,
            {"review_id": review_id, "request_id": decided.request_id, "label": label, "stage": before.stage,
             "reviewer": reviewer.subject, **reviewer.audit_fields(), "model_prediction": decided.prediction,
             "first_reviewer": case.first_reviewer, "first_label": case.first_label,
             "note_sha256": hashlib.sha256(note.encode()).hexdigest() if note else None},
        )  # fmt: skip
        return decided

    def label_statistics(self, model_digest: str) -> LabelStatistics:
        """What people's labels say about the model ``model_digest`` (``bentos.classifier.labels``)."""
        with self._connect() as db:
            return LabelStatistics.of_row(tuple(db.execute(STATISTICS_SQL, (model_digest,)).fetchone()))

    def depth(self) -> tuple[int, float]:
        """Pending reviews and the age in seconds of the oldest one (0 when none)."""
        with self._connect() as db:
            count, oldest = db.execute("SELECT COUNT(*), MIN(created) FROM reviews WHERE status = 'pending'").fetchone()
        return int(count), (time.time() - oldest) if oldest is not None else 0.0

    def resolved_records(self, *, exporter: Identity, audit: bool | None = None) -> Iterator[dict[str, Any]]:
        """Resolved reviews as labelled training records (features decrypted; the export is audited).
        ``audit``: only the random audit sample (True), only routed cases (False), or both (None)."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(f"SELECT * FROM reviews WHERE status = 'resolved'{kind_condition(audit)} "
                              "ORDER BY resolved, review_id").fetchall()  # fmt: skip
        self.audit.append("review.exported", {"records": len(rows), "kind": kind_name(audit),
                                              **exporter.audit_fields()})  # fmt: skip
        for row in rows:
            yield {
                self.contract.key.field: row["review_id"],
                **self._decrypt(row["payload"]),
                self.contract.label.field: row["label"],
            }

    def _decrypt(self, blob: bytes) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise ReviewStoreUnavailable("a review record cannot be decrypted with the configured key") from None
        return data

    def _decrypt_note(self, blob: bytes | None) -> str | None:
        return None if blob is None else self._fernet.decrypt(blob).decode()
