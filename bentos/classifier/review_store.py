"""Which review store a server or a command uses: SQLite for one process (the embedded default),
PostgreSQL when ``SLIPWAY_REVIEW_QUEUE`` is a ``postgresql://`` DSN (every replica shares it).

Usage::

    queue = open_review_store(ServerSettings(), contract)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.signing import KeyFileError

if TYPE_CHECKING:
    from bentos.classifier.settings import ServerSettings
    from slipway.contract import Contract


def read_review_key(settings: ServerSettings) -> bytes:
    path = settings.review_key_path()
    try:
        return path.read_bytes().strip()
    except OSError:
        raise KeyFileError(f"no review key at {path} (run `slipway keys generate`)") from None


def open_review_store(settings: ServerSettings, contract: Contract) -> Any:
    """A ``ReviewQueue`` or a ``PostgresReviewQueue`` (the same interface)."""
    key, four_eyes = read_review_key(settings), settings.four_eyes_classes(contract)
    if settings.shared_review_store:
        from bentos.classifier.review_store_pg import PostgresReviewQueue

        assert settings.review_queue is not None
        return PostgresReviewQueue(settings.review_queue, key, contract=contract, four_eyes=four_eyes)
    from bentos.classifier.review_queue import ReviewQueue

    return ReviewQueue(settings.review_queue_path(), key, contract=contract, four_eyes=four_eyes)


def open_review_audit(settings: ServerSettings, contract: Contract) -> Any:
    """The review audit trail to verify: the file beside the SQLite queue, or the shared store's table
    (reading it needs no review key)."""
    if settings.shared_review_store:
        from bentos.classifier.review_store_pg import PostgresReviewQueue

        assert settings.review_queue is not None
        return PostgresReviewQueue(settings.review_queue, None, contract=contract).audit
    from slipway.audit import AuditTrail

    return AuditTrail.for_name("reviews")
