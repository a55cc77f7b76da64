"""Decision routing: when the model may decide alone, and when a person must.

The prediction is the class with the highest calibrated probability; its probability is the
confidence. A prediction is decided automatically only when none of these holds:

- ``low_confidence``: the confidence is below the threshold recorded at training
  (``thresholds.confidence``, from the contract's ``confidence_threshold``);
- ``out_of_distribution``: the record is unlike the training data: the mean squared standardised
  distance of its numbers exceeds the training set's 99.5th percentile (``thresholds.ood_distance``),
  or a number lies outside the range seen in training, or a category value never occurred in
  training; ``unusual_features`` names which;
- ``high_stakes``: the predicted class is one the contract (or the deployment) marks high-stakes.

Usage::

    policy = RoutingPolicy.from_card(card, high_stakes_labels=contract.label.high_stakes)
    assessments = policy.assess_batch(batch.numbers, batch.categories, probabilities)   # (n, classes)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bentos.classifier.drift import FloatArray

LOW_CONFIDENCE = "low_confidence"
OUT_OF_DISTRIBUTION = "out_of_distribution"
HIGH_STAKES = "high_stakes"
REASONS = (LOW_CONFIDENCE, OUT_OF_DISTRIBUTION, HIGH_STAKES)
AUDIT = "audit"  # not a routing reason: an automatic decision drawn at random for a person to label too
TOP_UNUSUAL = 3


def mean_squared_distance(numbers: FloatArray, mean: FloatArray, std: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Standardised values and each row's mean squared distance over the numbers it has (missing skipped)."""
    z = (numbers - mean) / std
    present = (~np.isnan(z)).sum(axis=1)
    squared = np.nansum(z**2, axis=1)
    return z, np.divide(squared, present, out=np.zeros_like(squared), where=present > 0)


@dataclass(frozen=True)
class Assessment:
    prediction: str
    confidence: float
    probabilities: dict[str, float]
    ood_distance: float
    reasons: tuple[str, ...]
    unusual_features: tuple[str, ...]

    @property
    def needs_review(self) -> bool:
        return bool(self.reasons)


@dataclass(frozen=True)
class RoutingPolicy:
    classes: tuple[str, ...]
    confidence_threshold: float
    ood_threshold: float
    numeric: tuple[str, ...]
    mean: FloatArray
    std: FloatArray
    low: FloatArray
    high: FloatArray
    categories: dict[str, frozenset[str]]
    high_stakes_labels: frozenset[str]

    @classmethod
    def from_card(
        cls, card: dict[str, Any], *, high_stakes_labels: Iterable[str], confidence_threshold: float | None = None
    ) -> RoutingPolicy:
        thresholds, ood = card["thresholds"], card["ood"]
        return cls(
            classes=tuple(card["classes"]),
            confidence_threshold=float(confidence_threshold or thresholds["confidence"]),
            ood_threshold=float(thresholds["ood_distance"]),
            numeric=tuple(ood["numeric"]),
            mean=np.asarray(ood["mean"], dtype=np.float64),
            std=np.asarray(ood["std"], dtype=np.float64),
            low=np.asarray(ood["min"], dtype=np.float64),
            high=np.asarray(ood["max"], dtype=np.float64),
            categories={name: frozenset(values) for name, values in ood["categories"].items()},
            high_stakes_labels=frozenset(high_stakes_labels),
        )

    def assess_batch(
        self,
        numbers: FloatArray,
        categories: Mapping[str, Sequence[str | None]],
        probabilities: FloatArray,
    ) -> list[Assessment]:
        """``numbers``: the numeric inputs in the card's order (missing = NaN); ``categories``: each
        category input's values; ``probabilities``: one column per class, in the card's order."""
        z, distances = mean_squared_distance(numbers, self.mean, self.std)
        outside = (numbers < self.low) | (numbers > self.high)  # NaN (missing) compares False
        unseen = {
            name: [v is not None and v not in seen for v in categories[name]] for name, seen in self.categories.items()
        }
        winners: list[int] = np.argmax(probabilities, axis=1).tolist()
        rows: list[list[float]] = probabilities.tolist()  # plain floats: no numpy scalar per value
        far: list[float] = distances.tolist()
        any_outside = np.count_nonzero(outside, axis=1) > 0
        results = []
        for index, winner in enumerate(winners):
            row = rows[index]
            prediction, confidence = self.classes[winner], row[winner]
            reasons = []
            if confidence < self.confidence_threshold:
                reasons.append(LOW_CONFIDENCE)
            unusual = [name for name, flags in unseen.items() if flags[index]]
            if any_outside[index]:
                unusual += [self.numeric[i] for i in np.flatnonzero(outside[index])]
            if far[index] > self.ood_threshold:
                top = np.argsort(-np.nan_to_num(np.abs(z[index])))[:TOP_UNUSUAL]
                unusual += [self.numeric[i] for i in top if self.numeric[i] not in unusual]
            if unusual:
                reasons.append(OUT_OF_DISTRIBUTION)
            if prediction in self.high_stakes_labels:
                reasons.append(HIGH_STAKES)
            results.append(
                Assessment(
                    prediction,
                    confidence,
                    dict(zip(self.classes, row, strict=True)),
                    far[index],
                    tuple(reasons),
                    tuple(unusual),
                )
            )
        return results
