"""Drift and estimates fed in chunks: the same figures as observing every batch, never lost."""

from __future__ import annotations

from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from bentos.classifier.estimates import PerformanceEstimate
from bentos.classifier.metrics import ServiceMetrics
from bentos.classifier.observations import DeferredObservations
from tests.bentos.test_drift import Gauges, _monitor, _p, _x

Array = np.ndarray[Any, Any]


def _pair(rows: int, seconds: float = 3600.0) -> tuple[DeferredObservations, Gauges, CollectorRegistry]:
    registry, gauges = CollectorRegistry(), Gauges()
    estimate = PerformanceEstimate(ServiceMetrics(registry, classes=("a", "b")), ["a", "b"])
    return DeferredObservations(_monitor(gauges, window=300, min_samples=10), estimate, rows=rows,
                                seconds=seconds), gauges, registry  # fmt: skip


def _batches(seed: int) -> list[tuple[Array, Array, Array]]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 40, size=30)
    return [(_x(rng.normal(size=n)), _p(rng.uniform(size=n)), rng.uniform(size=n) < 0.6) for n in sizes]


def test_chunks_give_the_same_window_psi_and_estimates_as_every_batch_observed_at_once() -> None:
    chunked, chunked_gauges, chunked_registry = _pair(rows=64)
    direct, direct_gauges, direct_registry = _pair(rows=1)  # every batch flushed as it comes
    for numbers, probabilities, auto in _batches(7):
        chunked.add(numbers, {}, probabilities, auto)
        direct.add(numbers, {}, probabilities, auto)
    chunked.flush()
    assert chunked_gauges.window == direct_gauges.window == 300
    assert chunked_gauges.features.keys() == direct_gauges.features.keys() == {"x"}
    assert np.isclose(chunked_gauges.features["x"], direct_gauges.features["x"])
    assert chunked_gauges.prediction is not None and direct_gauges.prediction is not None
    assert np.isclose(chunked_gauges.prediction, direct_gauges.prediction)
    for name, scope in [("slipway_estimated_records_total", "all"), ("slipway_estimated_records_total", "auto"),
                        ("slipway_estimated_correct_total", "auto")]:  # fmt: skip
        chunked_value = chunked_registry.get_sample_value(name, {"scope": scope})
        direct_value = direct_registry.get_sample_value(name, {"scope": scope})
        assert chunked_value is not None and direct_value is not None and chunked_value > 0
        assert np.isclose(chunked_value, direct_value)


def test_records_wait_for_a_full_chunk_and_a_flush_takes_in_every_one() -> None:
    observations, gauges, registry = _pair(rows=50)
    observations.add(_x(np.zeros(20)), {}, _p(np.full(20, 0.2)), np.ones(20, dtype=bool))
    assert gauges.window == 0
    assert not registry.get_sample_value("slipway_estimated_records_total", {"scope": "all"})
    observations.add(_x(np.zeros(30)), {}, _p(np.full(30, 0.2)), np.ones(30, dtype=bool))  # 50: a full chunk
    assert gauges.window == 50
    observations.add(_x(np.zeros(5)), {}, _p(np.full(5, 0.2)), np.zeros(5, dtype=bool))
    observations.flush()
    assert gauges.window == 55
    assert registry.get_sample_value("slipway_estimated_records_total", {"scope": "all"}) == 55
    assert registry.get_sample_value("slipway_estimated_records_total", {"scope": "auto"}) == 50
    observations.flush()  # nothing kept: nothing counted twice
    assert registry.get_sample_value("slipway_estimated_records_total", {"scope": "all"}) == 55


def test_records_older_than_the_interval_are_observed_with_the_next_batch() -> None:
    observations, gauges, _ = _pair(rows=10_000, seconds=0.0)
    observations.add(_x(np.zeros(3)), {}, _p(np.full(3, 0.2)), np.ones(3, dtype=bool))
    assert gauges.window == 3


def test_category_values_of_every_batch_reach_the_monitor_in_order() -> None:
    seen: list[dict[str, list[str | None]]] = []

    class Monitor:
        def observe(self, numbers: object, categories: dict[str, list[str | None]], probabilities: object) -> None:
            seen.append(categories)

    observations = DeferredObservations(Monitor(), None, rows=100)  # type: ignore[arg-type]
    observations.add(_x([1.0]), {"plan": ["Basic"]}, _p([0.1]), np.ones(1, dtype=bool))
    observations.add(_x([2.0, 3.0]), {"plan": ["Plus", None]}, _p([0.2, 0.3]), np.ones(2, dtype=bool))
    observations.flush()
    assert seen == [{"plan": ["Basic", "Plus", None]}]
