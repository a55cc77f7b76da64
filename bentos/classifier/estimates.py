"""Estimated performance without labels: confidence-based performance estimation in the server.

With calibrated probabilities, the chance that a prediction is right is the probability of the
class it predicted, and the chance that a record predicted as k truly is j is its probability of j.
Summed over the records answered, these are the expected number of correct predictions (with the
variance of that number, sum p(1-p)) and the expected confusion matrix. Exported as counters, any
PromQL window of them gives the estimated accuracy, its standard error and each class's estimated
recall, for all records and for those decided without a person:

    estimated accuracy = increase(slipway_estimated_correct_total[1h]) / increase(slipway_estimated_records_total[1h])
    standard error     = sqrt(increase(slipway_estimated_correct_variance_total[1h])) / increase(..._records_total[1h])

The estimate holds while P(class | features) is what the model learnt, even when the features
drift; when the relationship itself changes it does not, which is what the random audit sample of
labels (the review queue's ``audit`` cases) catches. It is trusted only for a model that passed the
calibration check at training (``slipway_estimate_calibration_ok``; ``lifecycle.reliability``).

Usage::

    estimate = PerformanceEstimate(metrics, classes)
    estimate.observe(probabilities, auto=np.array([True, False, ...]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bentos.classifier.metrics import ServiceMetrics

SCOPES = ("all", "auto")


class PerformanceEstimate:
    def __init__(self, metrics: ServiceMetrics, classes: Sequence[str]) -> None:
        self.classes = list(classes)
        # label children bound once: a prediction then costs a few increments, no label lookups
        self._records = {s: metrics.estimated_records.labels(scope=s) for s in SCOPES}
        self._correct = {s: metrics.estimated_correct.labels(scope=s) for s in SCOPES}
        self._variance = {s: metrics.estimated_correct_variance.labels(scope=s) for s in SCOPES}
        self._cells = {
            s: [[metrics.estimated_confusion.labels(scope=s, predicted_class=k, true_class=j) for j in self.classes]
                for k in self.classes]
            for s in SCOPES
        }  # fmt: skip

    def observe(self, probabilities: np.ndarray[Any, Any], *, auto: np.ndarray[Any, Any]) -> None:
        """``probabilities``: one row per answered record, columns in the model's class order;
        ``auto``: which of them were decided without a person."""
        if len(probabilities) == 1:  # the common request: plain floats, no array work
            self._observe_one([float(p) for p in probabilities[0]], bool(auto[0]))
            return
        predicted = np.argmax(probabilities, axis=1)
        confidence = probabilities[np.arange(len(predicted)), predicted]
        for scope, members in (("all", np.ones(len(predicted), dtype=bool)), ("auto", np.asarray(auto, dtype=bool))):
            count = int(members.sum())
            if count == 0:
                continue
            chosen = confidence[members]
            self._records[scope].inc(count)
            self._correct[scope].inc(float(chosen.sum()))
            self._variance[scope].inc(float(np.sum(chosen * (1.0 - chosen))))
            for k in np.unique(predicted[members]).tolist():
                sums = probabilities[members & (predicted == k)].sum(axis=0)
                for j, cell in enumerate(self._cells[scope][k]):
                    cell.inc(float(sums[j]))

    def _observe_one(self, row: list[float], auto: bool) -> None:
        k = max(range(len(row)), key=row.__getitem__)
        confidence = row[k]
        for scope in ("all", "auto") if auto else ("all",):
            self._records[scope].inc()
            self._correct[scope].inc(confidence)
            self._variance[scope].inc(confidence * (1.0 - confidence))
            for cell, p in zip(self._cells[scope][k], row, strict=True):
                cell.inc(p)
