"""The model server's behaviour, independent of the HTTP framework: verify, predict, route, review.

``ModelRuntime.start`` never raises for a bad model: it records why the model was refused, so the
server stays up, reports not-ready with the reason, and answers predictions with 503. Every
answer is a ``(status, body)`` pair; the BentoML service only turns it into a response.

Usage::

    runtime = ModelRuntime.start(ServerSettings(), CollectorRegistry())
    status, body = runtime.predict({"record": {...}}, request_id="req-1")
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from bentos.classifier.artifact import ArtifactRejected, VerifiedModel, check_card, load_served, load_verified
from bentos.classifier.drift import DriftMonitor
from bentos.classifier.estimates import PerformanceEstimate
from bentos.classifier.inputs import InputBatch
from bentos.classifier.metrics import ServiceMetrics
from bentos.classifier.observations import DeferredObservations
from bentos.classifier.review_flow import ReviewConflict
from bentos.classifier.review_queue import ReviewNotFound, ReviewStoreUnavailable
from bentos.classifier.review_store import NewReview, ReviewStore, open_review_store
from bentos.classifier.routing import AUDIT, OUT_OF_DISTRIBUTION, Assessment, RoutingPolicy
from bentos.classifier.settings import ServerSettings
from bentos.classifier.shadow import ShadowRunner
from slipway.contract import Contract
from slipway.errors import SlipwayError
from slipway.identity import Forbidden, Identity

logger = logging.getLogger("slipway.classifier")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # it travels in headers, logs and audit records
_SAMPLER = random.SystemRandom()  # which automatic decisions are audited must not be predictable to callers
Answer = tuple[int, dict[str, Any]]


def _log(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line per event; never feature values or keys."""
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def _shadow(
    settings: ServerSettings, contract: Contract, champion: VerifiedModel, registry: CollectorRegistry
) -> ShadowRunner | None:
    """The challenger named by SLIPWAY_SHADOW_MODEL, verified like the champion; a refused one is
    logged and left out (it must never stop the champion serving)."""
    if not settings.shadow_model:
        return None
    try:
        model = load_verified(settings.shadow_model, public_key=settings.public_key_path(),
                              expected_digest=settings.shadow_model_digest, bento=settings.bento)  # fmt: skip
        check_card(model, contract)
    except (ArtifactRejected, SlipwayError) as exc:
        logger.error("shadow model refused: %s", exc)
        return None
    if model.card["classes"] != champion.card["classes"]:
        logger.error("shadow model refused: %s answers other classes than %s", model.tag, champion.tag)
        return None
    _log("shadow.verified", model=model.tag, digest=model.digest)
    return ShadowRunner(model, registry)


@dataclass(frozen=True)
class Prepared:
    """A request's validated records, ready to be scored with others."""

    request_id: str
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Scored:
    """A request's records scored; ``review_slots``: where each routed record's review is among the
    batch's review writes (record index -> position)."""

    request_id: str
    rows: list[dict[str, Any]]
    assessments: list[Assessment]
    review_slots: dict[int, int]


@dataclass(frozen=True)
class ScoredBatch:
    """The requests of a batch, scored; ``written``: the batch's review writes, one future for all
    (it resolves to their ids once every one is durable)."""

    requests: list[Scored]
    written: Future[list[str]] | None


Written = list[str] | ReviewStoreUnavailable | None  # what became of a batch's review writes


def written_outcome(written: Future[list[str]] | None) -> Written:
    """The review ids of a batch, or why they could not be stored (waits for the writes)."""
    if written is None:
        return None
    try:
        return written.result()
    except ReviewStoreUnavailable as exc:
        return exc


@dataclass
class ModelRuntime:
    settings: ServerSettings
    metrics: ServiceMetrics
    contract: Contract
    model: VerifiedModel | None = None
    refusal: str | None = None
    queue: ReviewStore | None = None
    queue_problem: str | None = None
    policy: RoutingPolicy | None = None
    drift: DriftMonitor | None = None
    estimate: PerformanceEstimate | None = None
    shadow: ShadowRunner | None = None
    info: dict[str, str] = field(default_factory=dict)
    observations: DeferredObservations = field(default_factory=lambda: DeferredObservations(None, None))

    @classmethod
    def start(cls, settings: ServerSettings, registry: CollectorRegistry, contract: Contract) -> ModelRuntime:
        """``contract``: the one the server was started with (``ServerSettings.load_contract``); a model
        made for another contract is refused."""
        queue, queue_problem = None, None
        try:
            queue = open_review_store(settings, contract)
        except (SlipwayError, ValueError) as exc:
            queue_problem = str(exc)
        metrics = ServiceMetrics(registry, queue_depth=queue.depth if queue else None, classes=contract.classes)
        runtime = cls(settings, metrics, contract, queue=queue, queue_problem=queue_problem)
        try:
            model = load_served(settings, contract)
            check_card(model, contract)
            high_stakes = settings.high_stakes(contract)
        except (ArtifactRejected, SlipwayError) as exc:
            runtime.refusal = str(exc)
            metrics.model_verified.set(0)
            logger.error("model refused: %s", exc)
            return runtime
        runtime.model = model
        runtime.policy = RoutingPolicy.from_card(
            model.card,
            high_stakes_labels=high_stakes,
            confidence_threshold=settings.confidence_threshold,
        )
        runtime.drift = DriftMonitor(
            model.card["drift"],
            metrics,
            names=model.card["features"],
            window=settings.drift_window,
            min_samples=settings.drift_min_samples,
            publish_every=settings.drift_publish_seconds,
        )
        runtime.estimate = PerformanceEstimate(metrics, model.card["classes"])
        runtime.observations = DeferredObservations(runtime.drift, runtime.estimate)
        if queue is not None:
            metrics.watch_labels(functools.partial(queue.label_statistics, model.digest))
        calibration = (model.card.get("metrics") or {}).get("calibration") or {}
        metrics.estimate_calibration_ok.set(1 if calibration.get("ok") else 0)
        metrics.accuracy_floor.set(contract.min_accuracy)
        runtime.shadow = _shadow(settings, contract, model, registry)
        runtime.info = {"name": model.tag.split(":")[0], "version": model.version, "digest": model.digest}
        metrics.model_info.labels(**runtime.info).set(1)
        metrics.model_verified.set(1)
        _log("model.verified", model=model.tag, digest=model.digest, queue=str(settings.review_queue_path()))
        if queue_problem:
            logger.error("review queue unavailable: %s", queue_problem)
        return runtime

    # -- health ------------------------------------------------------------------------------------------
    def readiness(self) -> str | None:
        """None when ready, else why not (shown by /readyz)."""
        return f"model refused: {self.refusal}" if self.refusal else None

    # -- predictions -------------------------------------------------------------------------------------
    def predict(self, payload: dict[str, Any], request_id: str | None) -> Answer:
        """One request on its own (the HTTP server batches concurrent requests: ``batching``)."""
        prepared = self.prepare(payload, request_id)
        if not isinstance(prepared, Prepared):
            return prepared
        batch = self.score([prepared])
        self.observations.flush()  # an in-process caller reads the gauges next
        return self.answer(batch.requests[0], written_outcome(batch.written))

    def prepare(self, payload: dict[str, Any], request_id: str | None) -> Prepared | Answer:
        """The request's validated records, or the answer that refuses it."""
        if request_id is not None and not REQUEST_ID.fullmatch(request_id):
            self.metrics.validation_errors.labels(problem="malformed_request").inc()
            return 422, {"error": "request_id must be 1-128 characters of letters, digits, '.', '_', ':' or '-'"}
        request_id = request_id or f"req-{uuid.uuid4().hex[:16]}"
        if self.model is None or self.policy is None:
            return 503, {"request_id": request_id, "error": "model not available", "reason": self.refusal}
        records, problem = self._records(payload)
        if problem is not None:
            status, message, category = problem
            self.metrics.validation_errors.labels(problem=category).inc()
            return status, {"request_id": request_id, "error": message}
        rows, errors = [], []
        for index, record in enumerate(records):
            values, problems = self.contract.validate_record(record)
            for p in problems:
                errors.append({"record": index, "field": p.field, "problem": p.category, "message": p.message})
                self.metrics.validation_errors.labels(problem=p.category).inc()
            if values is not None:
                rows.append(values)
        if errors:
            return 422, {"request_id": request_id, "error": "invalid input", "errors": errors}
        return Prepared(request_id, rows)

    def score(self, requests: list[Prepared]) -> ScoredBatch:
        """Every request's records through the model, routing, drift and estimates as one batch; the
        routed records handed to the review store in one submission (each answer waits for it)."""
        assert self.model is not None and self.policy is not None
        rows = [row for request in requests for row in request.rows]
        batch = InputBatch(self.contract, rows)
        probabilities = np.asarray(self.model.estimator.predict_proba(batch.model_input(self.model.card["input"])),
                                   dtype=np.float64)  # fmt: skip
        assessments = self.policy.assess_batch(batch.numbers, batch.categories, probabilities)
        self.observations.add(batch.numbers, batch.categories, probabilities,
                              np.array([not a.needs_review for a in assessments]))  # fmt: skip
        scored: list[Scored] = []
        reviews: list[NewReview] = []
        start = 0
        for request in requests:
            mine = assessments[start : start + len(request.rows)]
            start += len(request.rows)
            slots = self._route(request.request_id, request.rows, mine, reviews)
            if self.shadow is not None:
                self.shadow.observe(request.request_id, InputBatch(self.contract, request.rows),
                                    [a.prediction for a in mine])  # fmt: skip
            scored.append(Scored(request.request_id, request.rows, mine, slots))
        written = self.queue.submit_many(reviews) if reviews and self.queue is not None else None
        return ScoredBatch(scored, written)

    def answer(self, scored: Scored, written: Written) -> Answer:
        """The answer once the batch's review writes finished (``written``: their ids, or why they
        could not be stored)."""
        assert self.model is not None
        if isinstance(written, ReviewStoreUnavailable):
            reviews: dict[int, str | ReviewStoreUnavailable] = dict.fromkeys(scored.review_slots, written)
        else:
            reviews = {index: written[slot] for index, slot in scored.review_slots.items()} if written else {}
        results = self._results(scored, reviews)
        routed = any(r["decision"] != "auto" for r in results)
        _log(  # every routed request at info (it links the prediction to its review); automatic ones at debug
            "predict",
            logging.INFO if routed else logging.DEBUG,
            request_id=scored.request_id,
            decisions=[r["decision"] for r in results],
            reviews=[r["review_id"] for r in results if r["review_id"]],
            model_digest=self.model.digest,
        )
        return 200, {"request_id": scored.request_id, "model": self.info, "results": results}

    def _records(self, payload: dict[str, Any]) -> tuple[list[Any], tuple[int, str, str] | None]:
        record, records = payload.get("record"), payload.get("records")
        if (record is None) == (records is None):
            return [], (422, "send exactly one of 'record' (an object) or 'records' (a list)", "malformed_request")
        if records is not None:
            if not records:
                return [], (422, "'records' is empty", "malformed_request")
            if len(records) > self.settings.max_batch:
                return [], (
                    413,
                    f"batch of {len(records)} records exceeds the limit of {self.settings.max_batch}",
                    "batch_too_large",
                )
            return list(records), None
        return [record], None

    def _audit_sample(
        self, request_id: str, index: int, values: dict[str, Any], assessment: Assessment, rate: float
    ) -> None:
        """Queue a copy of an automatic decision for a person to label, off the request path: the
        answer is automatic and final whatever becomes of the copy (a lost copy only thins the sample,
        and is counted)."""
        assert self.model is not None and self.queue is not None
        queue, model = self.queue, self.model

        def store() -> None:
            try:
                review_id = queue.submit(request_id, index, features=values, prediction=assessment.prediction,
                                         probability=assessment.confidence, reasons=[AUDIT],
                                         model_version=model.version, model_digest=model.digest,
                                         sample_rate=rate).result()  # fmt: skip
            except ReviewStoreUnavailable as exc:
                self.metrics.review_write_failures.inc()
                logger.error("audit sample of %s not stored: %s", request_id, exc)
                return
            self.metrics.audit_sampled.inc()
            _log("audit.sampled", request_id=request_id, item=index, review_id=review_id)

        self._audit_writer.submit(store)

    @functools.cached_property
    def _audit_writer(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sample")

    def flush_audit_samples(self, timeout: float = 30.0) -> None:
        """Wait until every audit copy handed over so far is stored (tests, and shutdown)."""
        self._audit_writer.submit(lambda: None).result(timeout=timeout)

    def _route(
        self, request_id: str, rows: list[dict[str, Any]], assessments: list[Assessment], reviews: list[NewReview]
    ) -> dict[int, int]:
        """Add the request's routed records to the batch's ``reviews`` (where each went: the slots);
        count the reasons; draw the audit samples among its automatic decisions."""
        assert self.model is not None
        slots: dict[int, int] = {}
        rate = self.settings.audit_sample_rate
        for index, assessment in enumerate(assessments):
            if OUT_OF_DISTRIBUTION in assessment.reasons:
                self.metrics.out_of_distribution.inc()
            if not assessment.needs_review:
                if rate > 0 and self.queue is not None and _SAMPLER.random() < rate:
                    self._audit_sample(request_id, index, rows[index], assessment, rate)
                continue
            for reason in assessment.reasons:
                self.metrics.child(self.metrics.reasons, reason).inc()
            if self.queue is not None:
                slots[index] = len(reviews)
                reviews.append(NewReview(request_id, index, rows[index], assessment.prediction, assessment.confidence,
                                         list(assessment.reasons), self.model.version, self.model.digest))  # fmt: skip
        return slots

    def _results(self, scored: Scored, reviews: dict[int, str | ReviewStoreUnavailable]) -> list[dict[str, Any]]:
        decisions: Counter[str] = Counter()
        classes: Counter[str] = Counter()
        results = []
        for index, assessment in enumerate(scored.assessments):
            decision, review_id = "auto", None
            if assessment.needs_review:
                outcome = reviews.get(index, ReviewStoreUnavailable(self.queue_problem or "no review queue configured"))
                if isinstance(outcome, str):
                    review_id, decision = outcome, "review"
                else:
                    decision = "review_unavailable"
                    self.metrics.review_write_failures.inc()
                    logger.error("review store unavailable for %s: %s", scored.request_id, outcome)
            decisions[decision] += 1
            classes[assessment.prediction] += 1
            results.append(
                {
                    "index": index,
                    "prediction": assessment.prediction,
                    "confidence": round(assessment.confidence, 6),
                    "probabilities": {c: round(p, 6) for c, p in assessment.probabilities.items()},
                    "decision": decision,
                    "final": decision == "auto",
                    "reasons": list(assessment.reasons),
                    "unusual_features": list(assessment.unusual_features),
                    "review_id": review_id,
                }
            )
        for decision, count in decisions.items():  # one update per label, not per record
            self.metrics.child(self.metrics.predictions, decision).inc(count)
        for predicted, count in classes.items():
            self.metrics.child(self.metrics.predicted_classes, predicted).inc(count)
        return results

    # -- reviews -----------------------------------------------------------------------------------------
    def _queue(self) -> ReviewStore:
        if self.queue is None:
            raise ReviewStoreUnavailable(self.queue_problem or "no review queue configured")
        return self.queue

    def review_pending(self, limit: int, offset: int, viewer: Identity) -> Answer:
        _log("review.listed", logging.DEBUG, subject=viewer.subject)
        try:
            queue = self._queue()
            items = queue.pending(limit=max(1, min(limit, 500)), offset=max(0, offset))
            depth, oldest = queue.depth()
        except ReviewStoreUnavailable as exc:
            return 503, {"error": "review queue unavailable", "reason": str(exc)}
        return 200, {"items": [i.summary() for i in items], "pending": depth, "oldest_age_seconds": round(oldest, 3)}

    def review_item(self, review_id: str, viewer: Identity) -> Answer:
        def answer() -> Answer:
            item, features, note = self._queue().get(review_id, viewer=viewer)
            return 200, {**item.summary(), "features": features, "note": note}

        return _review_answer(answer)

    def review_claim(self, review_id: str, lease: float, who: Identity) -> Answer:
        """Take a review for ``lease`` seconds; the answer carries the version to resolve it with."""
        bounded = max(30.0, min(lease, 3600.0))
        return _review_answer(lambda: (200, self._queue().claim(review_id, who=who, lease=bounded).summary()))

    def review_resolve(self, review_id: str, label: str, note: str, version: int, reviewer: Identity) -> Answer:
        """``reviewer``: the verified subject of the request's token (never a request field), holding
        the claim made at ``version``."""
        if label not in self.contract.classes:
            return 422, {"error": f"label must be one of {list(self.contract.classes)}"}

        def answer() -> Answer:
            item = self._queue().resolve(review_id, label=label, reviewer=reviewer, version=version, note=note)
            _log("review.decided", review_id=review_id, request_id=item.request_id, reviewer=reviewer.subject,
                 stage=item.stage, status=item.status)  # fmt: skip
            return 200, item.summary()

        return _review_answer(answer)


def _review_answer(action: Callable[[], Answer]) -> Answer:
    """The action's answer, or the review store's refusal as an HTTP status."""
    try:
        return action()
    except ReviewNotFound as exc:
        return 404, {"error": str(exc)}
    except ReviewConflict as exc:
        return 409, {"error": str(exc)}
    except Forbidden as exc:
        return 403, {"error": str(exc)}
    except ReviewStoreUnavailable as exc:
        return 503, {"error": "review queue unavailable", "reason": str(exc)}
