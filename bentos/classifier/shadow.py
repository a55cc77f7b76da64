"""A challenger in shadow: it answers every record the champion answers, off the request path; its
answers are logged and counted, never returned. `slipway loop reconcile` promotes it once it has
answered long enough (``promotion.yaml``'s ``shadow`` window) without trouble.

One worker thread with a bounded backlog: a slow challenger can never slow the champion's answers
(what does not fit is dropped and counted). Counters carry the challenger's digest:

    slipway_shadow_records_total{digest}      records it answered
    slipway_shadow_agreements_total{digest}   of those, the champion's class
    slipway_shadow_estimated_correct_total{digest}  its own estimated correct (calibrated confidence)
    slipway_shadow_dropped_total{digest}      records it could not answer in time

Usage::

    shadow = ShadowRunner(model, registry)
    shadow.observe(request_id, batch, champion_predictions)
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter

from bentos.classifier.artifact import VerifiedModel
from bentos.classifier.inputs import InputBatch

logger = logging.getLogger("slipway.classifier")
BACKLOG = 16


class ShadowRunner:
    def __init__(self, model: VerifiedModel, registry: CollectorRegistry, *, backlog: int = BACKLOG) -> None:
        self.model = model
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._slots = threading.BoundedSemaphore(backlog)
        self._last: Future[None] | None = None
        digest = {"digest": model.digest}

        def counter(name: str, text: str) -> Any:
            return Counter(name, text, ["digest"], registry=registry).labels(**digest)

        self._records = counter(
            "slipway_shadow_records_total", "Records the shadow challenger answered (never returned)."
        )
        self._agreements = counter("slipway_shadow_agreements_total",
                                   "Records the shadow challenger gave the champion's class.")  # fmt: skip
        self._correct = counter("slipway_shadow_estimated_correct_total",
                                "The shadow challenger's expected correct answers (its confidence).")  # fmt: skip
        self._dropped = counter("slipway_shadow_dropped_total",
                                "Records the shadow challenger could not answer (backlog full, failed).")  # fmt: skip

    def observe(self, request_id: str, batch: InputBatch, champion: list[str]) -> None:
        if not self._slots.acquire(blocking=False):
            self._dropped.inc(len(champion))
            return
        self._last = self._executor.submit(self._answer, request_id, batch, champion)

    def _answer(self, request_id: str, batch: InputBatch, champion: list[str]) -> None:
        try:
            probabilities = np.asarray(self.model.estimator.predict_proba(batch.model_input(self.model.card["input"])))
            classes = np.asarray(self.model.card["classes"], dtype=object)
            predicted = classes[np.argmax(probabilities, axis=1)]
            confidence = probabilities.max(axis=1)
            self._records.inc(len(predicted))
            self._agreements.inc(int(np.sum(predicted == np.asarray(champion, dtype=object))))
            self._correct.inc(float(confidence.sum()))
            if logger.isEnabledFor(logging.INFO):
                logger.info(json.dumps({"event": "shadow.predicted", "request_id": request_id, "predictions":
                                        [str(p) for p in predicted], "model_digest": self.model.digest}))  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - a failing challenger must never touch the champion's answers
            self._dropped.inc(len(champion))
            logger.error("shadow challenger %s failed on %s: %s", self.model.tag, request_id, exc)
        finally:
            self._slots.release()

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for what was handed over so far (tests, and shutdown)."""
        if self._last is not None:
            self._last.result(timeout=timeout)
