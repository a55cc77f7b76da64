"""Drift: how far live inputs and predictions have moved from the training reference.

The reference (computed at training and stored in the model card) gives each feature ten
quantile bins and the share of training data in each. The live monitor keeps a sliding window of
recent observations per feature and reports the Population Stability Index per feature and for
the predicted probability once the window holds enough samples. The batch report adds the
two-sample Kolmogorov-Smirnov test against the stored reference sample.

PSI = Σ (aᵢ - eᵢ) · ln(aᵢ / eᵢ), the symmetric KL divergence of the two binned distributions, with
empty bins smoothed by ``EPSILON``. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 drifted.

Usage::

    reference = feature_reference(training_matrix, FEATURE_NAMES)          # at training
    monitor = DriftMonitor(card["drift"], metrics, names=FEATURE_NAMES, window=500, min_samples=100)
    monitor.observe(rows, probabilities)                                    # per request
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

EPSILON = 1e-4
BINS = 10
PROBABILITY_EDGES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
DRIFTED = 0.25

FloatArray = npt.NDArray[np.float64]


def bin_edges(values: FloatArray, bins: int = BINS) -> list[float]:
    """Inner edges of ``bins`` quantile bins (duplicates removed for discrete features)."""
    quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return sorted({float(q) for q in quantiles})


def proportions(values: FloatArray, edges: Sequence[float]) -> FloatArray:
    """Share of ``values`` in each bin (-inf, e1], (e1, e2], ..., (ek, inf)."""
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def psi(expected: Sequence[float] | FloatArray, actual: Sequence[float] | FloatArray) -> float:
    e = np.clip(np.asarray(expected, dtype=np.float64), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), EPSILON, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def ks(sample: FloatArray, reference: FloatArray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value (SciPy)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(sample, reference)
    return float(result.statistic), float(result.pvalue)


def feature_reference(matrix: FloatArray, names: Sequence[str]) -> dict[str, Any]:
    features = {}
    for index, name in enumerate(names):
        column = matrix[:, index]
        edges = bin_edges(column)
        features[name] = {"edges": edges, "expected": proportions(column, edges).tolist()}
    return {"features": features}


def prediction_reference(probabilities: FloatArray) -> dict[str, Any]:
    return {"edges": PROBABILITY_EDGES, "expected": proportions(probabilities, PROBABILITY_EDGES).tolist()}


class DriftGauges(Protocol):
    def set_feature_psi(self, feature: str, value: float) -> None: ...
    def set_prediction_psi(self, value: float) -> None: ...
    def set_window(self, samples: int) -> None: ...


class _WindowedHistograms:
    """Bin counts of several variables over the last ``window`` observations, updated in O(1) numpy calls.

    Each variable has its own edges; they are padded with +inf to a common width so one vectorised
    comparison bins a whole row of observations.
    """

    def __init__(self, edges: Sequence[Sequence[float]], window: int) -> None:
        width = max(len(e) for e in edges)
        self.edges = np.full((len(edges), width), np.inf)
        for row, values in enumerate(edges):
            self.edges[row, : len(values)] = values
        self.counts = np.zeros((len(edges), width + 1), dtype=np.int64)
        self.recent: deque[npt.NDArray[np.int64]] = deque(maxlen=window)
        self._rows = np.arange(len(edges))

    def add(self, observations: FloatArray) -> None:
        """``observations``: shape (n, variables)."""
        # bin index = number of edges strictly below the value (searchsorted, side="left")
        indices = (observations[:, :, None] > self.edges[None, :, :]).sum(axis=2)
        for row in indices:
            if len(self.recent) == self.recent.maxlen:
                np.subtract.at(self.counts, (self._rows, self.recent[0]), 1)
            self.recent.append(row)
            np.add.at(self.counts, (self._rows, row), 1)

    def shares(self, variable: int, bins: int) -> FloatArray:
        counts = self.counts[variable, :bins]
        total = counts.sum()
        return counts / total if total else counts.astype(np.float64)


class DriftMonitor:
    """Live PSI per feature and for predictions over a sliding window, with a minimum-sample guard."""

    def __init__(
        self,
        reference: dict[str, Any],
        gauges: DriftGauges,
        *,
        names: Sequence[str],
        window: int = 500,
        min_samples: int = 100,
        publish_every: float = 1.0,
    ) -> None:
        """``names``: the feature of each column of the rows given to ``observe`` (model input order);
        gauges are recomputed at most every ``publish_every`` seconds (PSI over 30 features per request
        would cost more than the prediction)."""
        if min_samples > window:
            raise ValueError("min_samples must not exceed the window")
        self.reference = reference
        self.gauges = gauges
        self.min_samples = min_samples
        self.names = list(names)
        self._bins = [len(reference["features"][name]["edges"]) + 1 for name in self.names]
        self._features = _WindowedHistograms([reference["features"][name]["edges"] for name in self.names], window)
        self._predictions = _WindowedHistograms([reference["prediction"]["edges"]], window)
        self._lock = threading.Lock()
        self._publish_every = publish_every
        self._published = float("-inf")

    def observe(self, rows: FloatArray, probabilities: FloatArray) -> None:
        with self._lock:
            self._features.add(rows)
            self._predictions.add(probabilities.reshape(-1, 1))
            samples = len(self._predictions.recent)
            self.gauges.set_window(samples)
            now = time.monotonic()
            if samples < self.min_samples or now - self._published < self._publish_every:
                return
            self._published = now
            for name, value in self._feature_psi().items():
                self.gauges.set_feature_psi(name, value)
            self.gauges.set_prediction_psi(self._prediction_psi())

    def _feature_psi(self) -> dict[str, float]:
        return {
            name: psi(self.reference["features"][name]["expected"], self._features.shares(index, self._bins[index]))
            for index, name in enumerate(self.names)
        }

    def _prediction_psi(self) -> float:
        expected = self.reference["prediction"]["expected"]
        return psi(expected, self._predictions.shares(0, len(expected)))

    def snapshot(self) -> dict[str, Any]:
        """Current PSI values (None below the minimum sample count)."""
        with self._lock:
            samples = len(self._predictions.recent)
            if samples < self.min_samples:
                return {"samples": samples, "features": None, "prediction": None}
            return {"samples": samples, "features": self._feature_psi(), "prediction": self._prediction_psi()}
