"""Decision routing: confidence, distribution and stakes decide whether a person reviews — for any
number of classes, with numbers (missing allowed) and categories."""

from __future__ import annotations

from typing import Any

import numpy as np

from bentos.classifier.routing import HIGH_STAKES, LOW_CONFIDENCE, OUT_OF_DISTRIBUTION, RoutingPolicy

NAMES = [f"x{i}" for i in range(30)]
CARD: dict[str, Any] = {
    "classes": ["negative", "positive"],
    "thresholds": {"confidence": 0.9, "ood_distance": 4.0},
    "ood": {"numeric": NAMES, "mean": [0.0] * 30, "std": [1.0] * 30, "min": [-10.0] * 30, "max": [10.0] * 30,
            "categories": {}},
}  # fmt: skip


def _numbers(scale: float = 0.0, **changes: float | None) -> np.ndarray[Any, Any]:
    row: dict[str, float | None] = dict.fromkeys(NAMES, scale)
    row.update(changes)
    return np.array([[np.nan if v is None else v for v in row.values()]])


def _binary(positive: float) -> np.ndarray[Any, Any]:
    return np.array([[1 - positive, positive]])


def _assess(positive: float, scale: float = 0.0, stakes: frozenset[str] = frozenset()) -> tuple[str, ...]:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=stakes)
    return policy.assess_batch(_numbers(scale), {}, _binary(positive))[0].reasons


def test_confident_in_distribution_low_stakes_is_automatic() -> None:
    assert _assess(0.02) == ()
    assert _assess(0.97) == ()


def test_the_prediction_is_the_most_probable_class_and_its_probability_the_confidence() -> None:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=())
    (assessment,) = policy.assess_batch(_numbers(), {}, _binary(0.03))
    assert (assessment.prediction, round(assessment.confidence, 6)) == ("negative", 0.97)
    assert assessment.probabilities == {"negative": 0.97, "positive": 0.03}


def test_low_confidence_goes_to_review() -> None:
    assert _assess(0.6) == (LOW_CONFIDENCE,)
    assert _assess(0.15) == (LOW_CONFIDENCE,)


def test_out_of_distribution_goes_to_review_and_names_features() -> None:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=())
    (assessment,) = policy.assess_batch(_numbers(x3=9.5, x7=9.0, x11=8.5, x20=8.0), {}, _binary(0.01))
    assert assessment.reasons == (OUT_OF_DISTRIBUTION,)
    assert assessment.unusual_features[:3] == ("x3", "x7", "x11")


def test_a_number_outside_the_training_range_is_out_of_distribution_alone() -> None:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=())
    (assessment,) = policy.assess_batch(_numbers(x5=10.5), {}, _binary(0.01))  # distance small, range exceeded
    assert assessment.ood_distance < 4.0
    assert assessment.reasons == (OUT_OF_DISTRIBUTION,) and assessment.unusual_features == ("x5",)


def test_missing_numbers_are_skipped_not_counted_as_unusual() -> None:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=())
    (assessment,) = policy.assess_batch(_numbers(x1=None, x2=None), {}, _binary(0.01))
    assert assessment.reasons == () and assessment.ood_distance == 0.0


def test_high_stakes_labels_always_go_to_review() -> None:
    assert _assess(0.999, stakes=frozenset({"positive"})) == (HIGH_STAKES,)
    assert _assess(0.001, stakes=frozenset({"positive"})) == ()


def test_reasons_combine() -> None:
    assert _assess(0.55, scale=5.0, stakes=frozenset({"positive"})) == (
        LOW_CONFIDENCE,
        OUT_OF_DISTRIBUTION,
        HIGH_STAKES,
    )


def test_a_deployment_can_raise_the_confidence_bar() -> None:
    policy = RoutingPolicy.from_card(CARD, high_stakes_labels=(), confidence_threshold=0.99)
    (assessment,) = policy.assess_batch(_numbers(), {}, _binary(0.02))
    assert assessment.reasons == (LOW_CONFIDENCE,)


def test_multiclass_with_an_unseen_category() -> None:
    card = {
        "classes": ["high", "low", "medium"],
        "thresholds": {"confidence": 0.6, "ood_distance": 4.0},
        "ood": {"numeric": ["age"], "mean": [40.0], "std": [10.0], "min": [18.0], "max": [90.0],
                "categories": {"region": ["north", "south"]}},
    }  # fmt: skip
    policy = RoutingPolicy.from_card(card, high_stakes_labels=("high",))
    numbers = np.array([[41.0], [30.0], [50.0], [45.0]])
    regions = {"region": ["north", "south", "east", None]}
    probabilities = np.array([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    low, high, unseen, unsure = policy.assess_batch(numbers, regions, probabilities)
    assert (low.prediction, low.reasons) == ("low", ())
    assert (high.prediction, high.reasons) == ("high", (HIGH_STAKES,))
    assert (unseen.prediction, unseen.reasons, unseen.unusual_features) == ("medium", (OUT_OF_DISTRIBUTION,),
                                                                           ("region",))  # fmt: skip
    assert (unsure.prediction, unsure.reasons) == ("medium", (LOW_CONFIDENCE,))  # a missing category is not unseen
