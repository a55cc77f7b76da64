"""The calibration check that decides whether a model's probabilities may estimate its accuracy."""

from __future__ import annotations

import numpy as np

from lifecycle.reliability import reliability


def _two_class(confidence: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.column_stack([confidence, 1 - confidence])
    return probabilities, np.where(right, "yes", "no")


def test_a_calibrated_model_passes_and_its_estimate_is_close() -> None:
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, 4000)
    probabilities, truth = _two_class(confidence, rng.uniform(size=4000) < confidence)
    check = reliability(probabilities, ["yes", "no"], truth)
    assert check["ok"] and abs(check["z"]) < 3 and check["ece"] < 0.03
    assert abs(check["estimated_accuracy"] - check["accuracy"]) < 3 * check["estimated_accuracy_standard_error"]
    assert sum(b["count"] for b in check["bins"]) == 4000


def test_an_overconfident_model_fails() -> None:
    rng = np.random.default_rng(2)
    probabilities, truth = _two_class(np.full(500, 0.99), rng.uniform(size=500) < 0.7)
    check = reliability(probabilities, ["yes", "no"], truth)
    assert not check["ok"] and check["z"] < -3 and check["ece"] > 0.2
