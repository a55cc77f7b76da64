"""Which review store a server or a command uses: SQLite for one process (the embedded default),
PostgreSQL when ``SLIPWAY_REVIEW_QUEUE`` is a ``postgresql://`` DSN (every replica shares it).

Usage::

    queue = open_review_store(ServerSettings(), contract)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.fernet import Fernet

from slipway.signing import KeyFileError

if TYPE_CHECKING:
    from bentos.classifier.labels import LabelStatistics
    from bentos.classifier.review_queue import ReviewItem
    from bentos.classifier.settings import ServerSettings
    from slipway.contract import Contract
    from slipway.identity import Identity


@dataclass(frozen=True)
class NewReview:
    """A routed record (or an audit sample, with its ``sample_rate``) to be queued for a person."""

    request_id: str
    item: int
    features: dict[str, Any]
    prediction: str
    probability: float
    reasons: list[str]
    model_version: str
    model_digest: str
    sample_rate: float | None = None

    def stored_row(self, review_id: str, created: float, fernet: Fernet) -> tuple[object, ...]:
        """The values both stores insert for it (review_id, request_id, item, created, prediction,
        probability, reasons, model_version, model_digest, payload, sample_rate); the features
        encrypted with the review key."""
        return (review_id, self.request_id, self.item, created, self.prediction, self.probability,
                json.dumps(self.reasons), self.model_version, self.model_digest,
                fernet.encrypt(json.dumps(self.features).encode()), self.sample_rate)  # fmt: skip

    def audit_record(self, review_id: str) -> dict[str, Any]:
        """What the audit trail says of its creation: ids, reasons and prediction, never feature values."""
        return {"review_id": review_id, "request_id": self.request_id, "item": self.item, "reasons": self.reasons,
                "prediction": self.prediction, "model_digest": self.model_digest,
                **({"sample_rate": self.sample_rate} if self.sample_rate is not None else {})}  # fmt: skip


class ReviewAudit(Protocol):
    """A hash-chained review audit trail: the file (``AuditTrail``) or the shared store's table."""

    @property
    def path(self) -> Path | str: ...
    def records(self) -> list[dict[str, Any]]: ...
    def actors(self) -> list[dict[str, Any]]: ...
    def verify(self) -> int: ...


class ReviewStore(Protocol):
    """What every review store offers (``ReviewQueue`` on SQLite, ``PostgresReviewQueue``); the
    decision rules themselves are ``review_flow``'s, shared by both."""

    @property
    def audit(self) -> ReviewAudit: ...
    def submit(
        self, request_id: str, item: int, *, features: dict[str, Any], prediction: str, probability: float,
        reasons: list[str], model_version: str, model_digest: str, sample_rate: float | None = None,
    ) -> Future[str]: ...  # fmt: skip
    def submit_many(self, reviews: Sequence[NewReview]) -> Future[list[str]]: ...  # their ids, once all are durable
    def pending(self, *, limit: int = 50, offset: int = 0) -> list[ReviewItem]: ...
    def depth(self) -> tuple[int, float]: ...
    def label_statistics(self, model_digest: str) -> LabelStatistics: ...
    def describe(self, review_id: str) -> ReviewItem: ...
    def get(self, review_id: str, *, viewer: Identity) -> tuple[ReviewItem, dict[str, Any], str | None]: ...
    def claim(self, review_id: str, *, who: Identity, lease: float = ...) -> ReviewItem: ...
    def claim_next(self, *, who: Identity, lease: float = ...) -> ReviewItem | None: ...
    def release(self, review_id: str, *, who: Identity) -> ReviewItem: ...
    def resolve(
        self, review_id: str, *, label: str, reviewer: Identity, version: int, note: str = ""
    ) -> ReviewItem: ...
    def resolved_records(self, *, exporter: Identity, audit: bool | None = None) -> Iterator[dict[str, Any]]: ...
    def backup(self, directory: Path) -> dict[str, Any]: ...
    def restore(self, directory: Path) -> dict[str, Any]: ...
    def close(self) -> None: ...


def first_of(many: Future[list[str]]) -> Future[str]:
    """The id of a one-review ``submit_many``, as a future of its own."""
    one: Future[str] = Future()

    def settle(done: Future[list[str]]) -> None:
        failure = done.exception()
        if failure is not None:
            one.set_exception(failure)
        else:
            one.set_result(done.result()[0])

    many.add_done_callback(settle)
    return one


def read_review_key(settings: ServerSettings) -> bytes:
    path = settings.review_key_path()
    try:
        return path.read_bytes().strip()
    except OSError:
        raise KeyFileError(f"no review key at {path} (run `slipway keys generate`)") from None


def open_review_store(settings: ServerSettings, contract: Contract) -> ReviewStore:
    """A ``ReviewQueue`` or a ``PostgresReviewQueue`` (the same interface)."""
    key, four_eyes = read_review_key(settings), settings.four_eyes_classes(contract)
    if settings.shared_review_store:
        from bentos.classifier.review_store_pg import PostgresReviewQueue

        assert settings.review_queue is not None
        return PostgresReviewQueue(settings.review_queue, key, contract=contract, four_eyes=four_eyes)
    from bentos.classifier.review_queue import ReviewQueue

    return ReviewQueue(settings.review_queue_path(), key, contract=contract, four_eyes=four_eyes)


def open_review_audit(settings: ServerSettings, contract: Contract) -> ReviewAudit:
    """The review audit trail to verify: the file beside the SQLite queue, or the shared store's table
    (reading it needs no review key)."""
    if settings.shared_review_store:
        from bentos.classifier.review_store_pg import PostgresReviewQueue

        assert settings.review_queue is not None
        return PostgresReviewQueue(settings.review_queue, None, contract=contract).audit
    from slipway.audit import AuditTrail

    return AuditTrail.for_name("reviews")
