"""Decision routing: when the model may decide alone, and when a person must.

A prediction is decided automatically only when none of these holds:

- ``low_confidence``: the calibrated probability of the predicted label is below the confidence
  threshold recorded at training (``thresholds.confidence``);
- ``out_of_distribution``: the record's mean squared standardised distance from the training data
  exceeds the training set's 99.5th percentile (``thresholds.ood_distance``);
- ``high_stakes``: the predicted label is one the deployment marks as high-stakes (default:
  ``malignant`` — a cancer finding is always confirmed by a person).

Usage::

    policy = RoutingPolicy.from_card(card, high_stakes_labels={"malignant"})
    outcome = policy.assess(row, probability_malignant)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bentos.classifier.drift import FloatArray
from slipway.contract import FEATURE_NAMES

LOW_CONFIDENCE = "low_confidence"
OUT_OF_DISTRIBUTION = "out_of_distribution"
HIGH_STAKES = "high_stakes"
REASONS = (LOW_CONFIDENCE, OUT_OF_DISTRIBUTION, HIGH_STAKES)


@dataclass(frozen=True)
class Assessment:
    prediction: str
    probability: float
    confidence: float
    ood_distance: float
    reasons: tuple[str, ...]
    unusual_features: tuple[str, ...]

    @property
    def needs_review(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class RoutingPolicy:
    decision_threshold: float
    confidence_threshold: float
    ood_threshold: float
    mean: FloatArray
    std: FloatArray
    high_stakes_labels: frozenset[str]

    @classmethod
    def from_card(
        cls, card: dict[str, Any], *, high_stakes_labels: Iterable[str], confidence_threshold: float | None = None
    ) -> RoutingPolicy:
        thresholds = card["thresholds"]
        return cls(
            decision_threshold=float(thresholds["decision"]),
            confidence_threshold=float(confidence_threshold or thresholds["confidence"]),
            ood_threshold=float(thresholds["ood_distance"]),
            mean=np.asarray(card["ood"]["mean"], dtype=np.float64),
            std=np.asarray(card["ood"]["std"], dtype=np.float64),
            high_stakes_labels=frozenset(high_stakes_labels),
        )

    def assess_batch(self, rows: FloatArray, probabilities: FloatArray) -> list[Assessment]:
        z = (rows - self.mean) / self.std
        distances = np.mean(z**2, axis=1)
        results = []
        for index, probability in enumerate(probabilities.tolist()):
            prediction = "malignant" if probability >= self.decision_threshold else "benign"
            confidence = probability if prediction == "malignant" else 1.0 - probability
            reasons = []
            if confidence < self.confidence_threshold:
                reasons.append(LOW_CONFIDENCE)
            unusual: tuple[str, ...] = ()
            if distances[index] > self.ood_threshold:
                reasons.append(OUT_OF_DISTRIBUTION)
                top = np.argsort(-np.abs(z[index]))[:3]
                unusual = tuple(FEATURE_NAMES[i] for i in top)
            if prediction in self.high_stakes_labels:
                reasons.append(HIGH_STAKES)
            results.append(
                Assessment(prediction, probability, confidence, float(distances[index]), tuple(reasons), unusual)
            )
        return results
