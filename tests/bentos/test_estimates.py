"""Estimated performance without labels (confidence-based), in the server's own counters."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from bentos.classifier.estimates import PerformanceEstimate
from bentos.classifier.metrics import ServiceMetrics
from tests.bentos.conftest import Trained
from tests.wdbc import WDBC


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    assert value is not None, f"no sample {name}{labels}"
    return value


def test_counters_hold_the_expected_correct_its_variance_and_the_expected_confusion() -> None:
    registry = CollectorRegistry()
    estimate = PerformanceEstimate(ServiceMetrics(registry, classes=("a", "b")), ["a", "b"])
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    estimate.observe(probabilities, auto=np.array([True, True, False]))
    assert _value(registry, "slipway_estimated_records_total", scope="all") == 3
    assert _value(registry, "slipway_estimated_records_total", scope="auto") == 2
    assert math.isclose(_value(registry, "slipway_estimated_correct_total", scope="all"), 0.9 + 0.7 + 0.6)
    assert math.isclose(_value(registry, "slipway_estimated_correct_total", scope="auto"), 0.9 + 0.7)
    variance = 0.9 * 0.1 + 0.7 * 0.3 + 0.6 * 0.4
    assert math.isclose(_value(registry, "slipway_estimated_correct_variance_total", scope="all"), variance)
    cell = "slipway_estimated_confusion_total"
    assert math.isclose(_value(registry, cell, scope="all", predicted_class="a", true_class="a"), 0.9 + 0.6)
    assert math.isclose(_value(registry, cell, scope="all", predicted_class="a", true_class="b"), 0.1 + 0.4)
    assert math.isclose(_value(registry, cell, scope="all", predicted_class="b", true_class="b"), 0.7)
    assert math.isclose(_value(registry, cell, scope="auto", predicted_class="a", true_class="b"), 0.1)


def test_on_held_out_cases_the_estimate_meets_the_realized_accuracy_within_its_error(
    home: Path, trained: Trained
) -> None:
    """The breast-cancer model answering its frozen evaluation set, which it never learnt from: the
    accuracy its counters estimate (no labels) against the accuracy its answers really have."""
    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings
    from lifecycle.frozen import open_frozen

    frozen = open_frozen(trained.keys_dir.parent / "evaluation", WDBC)
    assert frozen is not None and frozen.rows > 100
    registry = CollectorRegistry()
    runtime = ModelRuntime.start(ServerSettings(), registry, WDBC)
    status, answer = runtime.predict({"records": frozen.frame.to_dicts()}, "req-held-out")
    assert status == 200
    realized = np.mean([r["prediction"] == truth for r, truth in zip(answer["results"], frozen.labels, strict=True)])
    rows = _value(registry, "slipway_estimated_records_total", scope="all")
    estimated = _value(registry, "slipway_estimated_correct_total", scope="all") / rows
    error = math.sqrt(_value(registry, "slipway_estimated_correct_variance_total", scope="all")) / rows
    assert rows == frozen.rows
    assert abs(estimated - realized) <= 3 * error, (estimated, realized, error)
    assert _value(registry, "slipway_estimate_calibration_ok") == 1.0
    assert _value(registry, "slipway_accuracy_floor") == WDBC.min_accuracy


def test_one_record_requests_count_exactly_as_batches_do() -> None:
    batch, single = CollectorRegistry(), CollectorRegistry()
    rows = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    auto = np.array([True, False, True])
    PerformanceEstimate(ServiceMetrics(batch, classes=("a", "b")), ["a", "b"]).observe(rows, auto=auto)
    one = PerformanceEstimate(ServiceMetrics(single, classes=("a", "b")), ["a", "b"])
    for row, decided in zip(rows, auto, strict=True):
        one.observe(row[None, :], auto=np.array([decided]))
    for metric in batch.collect():
        for sample in metric.samples:
            if sample.name.startswith("slipway_estimated"):
                assert math.isclose(single.get_sample_value(sample.name, sample.labels) or 0.0, sample.value), sample
