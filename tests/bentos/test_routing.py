"""Decision routing: confidence, distribution and stakes decide whether a person reviews."""

from __future__ import annotations

import numpy as np

from bentos.classifier.routing import HIGH_STAKES, LOW_CONFIDENCE, OUT_OF_DISTRIBUTION, RoutingPolicy

CARD = {
    "thresholds": {"decision": 0.5, "confidence": 0.9, "ood_distance": 4.0},
    "ood": {"mean": [0.0] * 30, "std": [1.0] * 30},
}


def _assess(probability: float, scale: float = 0.0, stakes: frozenset[str] = frozenset()) -> tuple[str, ...]:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=stakes)
    rows = np.full((1, 30), scale)
    return policy.assess_batch(rows, np.array([probability]))[0].reasons


def test_confident_in_distribution_low_stakes_is_automatic() -> None:
    assert _assess(0.02) == ()
    assert _assess(0.97) == ()


def test_low_confidence_goes_to_review() -> None:
    assert _assess(0.6) == (LOW_CONFIDENCE,)
    assert _assess(0.15) == (LOW_CONFIDENCE,)


def test_out_of_distribution_goes_to_review_and_names_features() -> None:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=())
    row = np.zeros((1, 30))
    row[0, 3] = 20.0  # mean_area far from the training mean
    (assessment,) = policy.assess_batch(row, np.array([0.01]))
    assert assessment.reasons == (OUT_OF_DISTRIBUTION,)
    assert assessment.unusual_features[0] == "mean_area"


def test_high_stakes_labels_always_go_to_review() -> None:
    assert _assess(0.999, stakes=frozenset({"malignant"})) == (HIGH_STAKES,)
    assert _assess(0.001, stakes=frozenset({"malignant"})) == ()


def test_reasons_combine() -> None:
    assert _assess(0.55, scale=5.0, stakes=frozenset({"malignant"})) == (
        LOW_CONFIDENCE,
        OUT_OF_DISTRIBUTION,
        HIGH_STAKES,
    )


def test_a_deployment_can_raise_the_confidence_bar() -> None:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=(), confidence_threshold=0.99)
    (assessment,) = policy.assess_batch(np.zeros((1, 30)), np.array([0.02]))
    assert assessment.reasons == (LOW_CONFIDENCE,)
