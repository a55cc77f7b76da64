"""Is the model calibrated well enough for its own probabilities to estimate its accuracy?

Confidence-based performance estimation (what the server exports, ``bentos.classifier.estimates``)
takes the calibrated probability of the predicted class as the chance that the prediction is right.
That holds only if, on labelled records the calibrator never saw, the predictions are right about as
often as their probabilities say. This measures it on the held-out records:

- ``expected_correct`` (the sum of the predicted class's probability), its variance (the sum of
  p(1-p), the predictions being independent Bernoulli trials), ``observed_correct`` and
  z = (observed - expected) / sqrt(variance);
- the expected calibration error over ten equal-width confidence bins, and the bins themselves
  (for the reliability plot).

``ok`` is |z| <= 3: an estimate that far from the truth on the model's own test set would mislead.
A model that is not ``ok`` is still stored (a warning in `slipway train`'s output); the server marks
its estimates untrusted (``slipway_estimate_calibration_ok`` 0) and the loop does not act on them.

Usage::

    check = reliability(probabilities, classes, truth)
    check["ok"], check["z"], check["estimated_accuracy"], check["accuracy"]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Z_LIMIT = 3.0
BINS = 10


def reliability(
    probabilities: np.ndarray[Any, Any], classes: Sequence[str], truth: np.ndarray[Any, Any]
) -> dict[str, Any]:
    confidence = np.max(probabilities, axis=1)
    predicted = np.asarray(list(classes), dtype=object)[np.argmax(probabilities, axis=1)]
    correct = (predicted == np.asarray(truth, dtype=object)).astype(float)
    rows = len(correct)
    expected, observed = float(confidence.sum()), float(correct.sum())
    variance = float(np.sum(confidence * (1.0 - confidence)))
    z = (observed - expected) / math.sqrt(variance) if variance > 0 else 0.0
    edges = np.linspace(0.0, 1.0, BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, BINS - 1)
    bins, ece = [], 0.0
    for b in range(BINS):
        members = which == b
        count = int(members.sum())
        if count == 0:
            continue
        mean_confidence, accuracy = float(confidence[members].mean()), float(correct[members].mean())
        ece += abs(mean_confidence - accuracy) * count / rows
        bins.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": count,
                     "mean_confidence": mean_confidence, "accuracy": accuracy})  # fmt: skip
    return {
        "rows": rows,
        "expected_correct": expected,
        "expected_correct_variance": variance,
        "observed_correct": observed,
        "estimated_accuracy": expected / rows if rows else 0.0,
        "estimated_accuracy_standard_error": math.sqrt(variance) / rows if rows else 0.0,
        "accuracy": observed / rows if rows else 0.0,
        "z": z,
        "ece": ece,
        "bins": bins,
        "ok": abs(z) <= Z_LIMIT,
        "z_limit": Z_LIMIT,
    }


def describe(check: dict[str, Any]) -> str:
    return (
        f"estimated accuracy {check['estimated_accuracy']:.3f} ± {check['estimated_accuracy_standard_error']:.3f} "
        f"vs realized {check['accuracy']:.3f} on {check['rows']} held-out records (z {check['z']:+.2f}, "
        f"ECE {check['ece']:.3f})"
    )
