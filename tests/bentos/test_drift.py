"""Drift maths against SciPy, and the live monitor's window and minimum-sample guard."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.special import rel_entr
from scipy.stats import ks_2samp

from bentos.classifier.drift import (
    DriftMonitor,
    bin_edges,
    category_shares,
    feature_reference,
    ks,
    numeric_shares,
    proportions,
    psi,
)
from slipway.contract import parse_contract


def test_psi_is_the_symmetric_kl_divergence() -> None:
    expected = np.array([0.1, 0.2, 0.3, 0.4])
    actual = np.array([0.25, 0.25, 0.25, 0.25])
    reference = float(np.sum(rel_entr(actual, expected)) + np.sum(rel_entr(expected, actual)))
    assert psi(expected, actual) == pytest.approx(reference, rel=1e-9)
    assert psi(expected, expected) == pytest.approx(0.0, abs=1e-12)


def test_psi_smooths_empty_bins() -> None:
    assert np.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))


def test_ks_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 400), rng.normal(0.3, 1, 300)
    statistic, p_value = ks(a, b)
    reference = ks_2samp(a, b)
    assert statistic == pytest.approx(reference.statistic)
    assert p_value == pytest.approx(reference.pvalue)


def test_quantile_bins_hold_equal_shares_of_the_reference() -> None:
    values = np.random.default_rng(1).normal(size=10_000)
    edges = bin_edges(values)
    assert len(edges) == 9
    assert np.allclose(proportions(values, edges), 0.1, atol=0.002)


class Gauges:
    def __init__(self) -> None:
        self.features: dict[str, float] = {}
        self.prediction: float | None = None
        self.window = 0

    def set_feature_psi(self, feature: str, value: float) -> None:
        self.features[feature] = value

    def set_prediction_psi(self, value: float) -> None:
        self.prediction = value

    def set_window(self, samples: int) -> None:
        self.window = samples


def _monitor(gauges: Gauges, **kwargs: int) -> DriftMonitor:
    rng = np.random.default_rng(5)
    reference_values = rng.normal(size=5000)
    edges = bin_edges(reference_values)
    reference = {
        "features": {"x": {"kind": "numeric", "edges": edges,
                           "expected": numeric_shares(reference_values, edges).tolist()}},
        "prediction": {"classes": ["a", "b"], "edges": [0.5], "expected": [[0.5, 0.5], [0.5, 0.5]]},
    }  # fmt: skip
    kwargs.setdefault("publish_every", 0)
    return DriftMonitor(reference, gauges, names=["x"], **kwargs)


def _x(values: Any) -> np.ndarray[Any, Any]:
    return np.asarray(values, dtype=np.float64).reshape(-1, 1)


def _p(positive: Any) -> np.ndarray[Any, Any]:
    positive = np.asarray(positive, dtype=np.float64)
    return np.column_stack([1 - positive, positive])


def test_nothing_is_published_below_the_minimum_sample_count() -> None:
    gauges = Gauges()
    monitor = _monitor(gauges, window=200, min_samples=100)
    monitor.observe(_x(np.zeros((99, 1))), {}, _p(np.full(99, 0.2)))
    assert gauges.window == 99 and gauges.features == {} and gauges.prediction is None
    assert monitor.snapshot()["features"] is None


def test_gauges_are_recomputed_at_most_once_per_interval() -> None:
    gauges = Gauges()
    monitor = _monitor(gauges, window=200, min_samples=10, publish_every=3600)
    monitor.observe(_x(np.zeros((20, 1))), {}, _p(np.full(20, 0.2)))
    first = gauges.features["x"]
    monitor.observe(_x(np.full((20, 1), 5.0)), {}, _p(np.full(20, 0.9)))
    assert gauges.features["x"] == first  # throttled
    assert gauges.window == 40  # the window count is always current
    assert monitor.snapshot()["features"]["x"] != pytest.approx(first)  # an explicit snapshot is always fresh


def test_shifted_inputs_drift_and_the_window_forgets() -> None:
    gauges = Gauges()
    monitor = _monitor(gauges, window=200, min_samples=100)
    rng = np.random.default_rng(9)
    monitor.observe(_x(rng.normal(3.0, 1, (200, 1))), {}, _p(np.full(200, 0.9)))
    assert gauges.features["x"] > 1.0 and gauges.prediction is not None and gauges.prediction > 1.0
    monitor.observe(_x(rng.normal(0.0, 1, (200, 1))), {}, _p(rng.uniform(0, 1, 200)))  # the window now holds only these
    assert gauges.window == 200
    assert gauges.features["x"] < 0.25


def test_vectorised_window_bins_exactly_like_the_reference_binning() -> None:
    from bentos.classifier.drift import _WindowedHistograms

    rng = np.random.default_rng(0)
    data = np.round(rng.normal(size=(1000, 3)), 1)  # rounded: many values sit exactly on an edge
    edges = [[-1.0, 0.0, 1.0], [0.5], [-2.0, -1.0, 0.0, 1.0, 2.0]]
    histograms = _WindowedHistograms(edges, window=5000)
    histograms.add(data)
    for index, variable_edges in enumerate(edges):
        expected = proportions(data[:, index], variable_edges)
        assert np.allclose(histograms.shares(index, len(variable_edges) + 1), expected)


@pytest.mark.parametrize("sizes", [[1] * 40, [7, 30, 1, 64, 3], [100], [25, 25, 1, 49]])
def test_the_window_holds_exactly_the_last_observations_whatever_the_batch_sizes(sizes: list[int]) -> None:
    from bentos.classifier.drift import _WindowedHistograms

    rng = np.random.default_rng(1)
    edges = [[-1.0, 0.0, 1.0], [0.5]]
    histograms = _WindowedHistograms(edges, window=20)
    seen = []
    for size in sizes:
        batch = np.round(rng.normal(size=(size, 2)), 1)
        histograms.add(batch)
        seen.extend(batch.tolist())
        last = np.array(seen[-20:])
        for index, variable_edges in enumerate(edges):
            counts = histograms.counts[index, : len(variable_edges) + 1]
            expected = proportions(last[:, index], variable_edges) * len(last)
            assert np.allclose(counts, expected) and len(histograms.recent) == len(last)


def test_missing_numbers_have_their_own_bin_and_unseen_categories_are_counted() -> None:
    assert numeric_shares(np.array([1.0, 2.0, np.nan, np.nan]), [1.5]).tolist() == [0.25, 0.25, 0.5]
    assert category_shares(["a", "b", "z", None], ["a", "b"]).tolist() == [0.25, 0.25, 0.25, 0.25]


def test_a_category_training_never_had_drifts_live() -> None:
    contract = parse_contract(
        {"name": "t", "version": 1, "key": "id", "event_time": "at", "label": {"field": "y", "classes": ["a", "b"]},
         "features": [{"name": "colour", "type": "category", "values": ["red", "green", "blue"]},
                      {"name": "size", "type": "float"}]}
    )  # fmt: skip
    training = pl.DataFrame({"colour": ["red", "green"] * 100, "size": [1.0, 2.0] * 100})
    prediction = {"classes": ["a", "b"], "edges": [0.5], "expected": [[0.5, 0.5], [0.5, 0.5]]}
    reference = {**feature_reference(training, contract), "prediction": prediction}
    assert reference["features"]["colour"] == {"kind": "category", "values": ["green", "red"],
                                               "expected": [0.5, 0.5, 0.0, 0.0]}  # fmt: skip
    gauges = Gauges()
    monitor = DriftMonitor(reference, gauges, names=["colour", "size"], window=100, min_samples=10, publish_every=0)
    monitor.observe(np.array([[1.0], [2.0]] * 25), {"colour": ["blue"] * 50}, _p(np.full(50, 0.5)))
    assert gauges.features["colour"] > 1.0 and gauges.features["size"] < 0.01
