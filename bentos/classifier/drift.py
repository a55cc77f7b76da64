"""Drift: how far live inputs and predictions have moved from the training reference.

The reference (computed at training and stored in the model card) describes each model input:

- a number (``float``, ``int``, ``bool`` as 0/1): ten quantile bins of the training values, the
  share of training data in each, and one more bin for missing values;
- a category: the share of each value seen in training, then an ``unseen`` bin (values the
  training data never had, which is 0 in training and counts every such value live), then a
  ``missing`` bin.

Predictions: ten probability bins per class. The live monitor keeps a sliding window of recent
observations and reports the Population Stability Index per feature, and for predictions the mean
PSI over the classes, once the window holds enough samples. The batch report adds the two-sample
Kolmogorov-Smirnov test for numbers against the stored reference sample.

PSI = Σ (aᵢ - eᵢ) · ln(aᵢ / eᵢ), the symmetric KL divergence of the two binned distributions, with
empty bins smoothed by ``EPSILON``. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 drifted.

Usage::

    reference = feature_reference(training_frame, contract)                  # at training
    monitor = DriftMonitor(card["drift"], metrics, names=contract.input_names, window=500, min_samples=100)
    monitor.observe(batch.numbers, batch.categories, probabilities)           # per request
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from slipway.columns import as_floats

if TYPE_CHECKING:
    import polars as pl

    from slipway.contract import Contract

EPSILON = 1e-4
BINS = 10
PROBABILITY_EDGES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
DRIFTED = 0.25
MISSING_EDGE = sys.float_info.max  # live numbers: missing is +inf, the only value above this edge

FloatArray = npt.NDArray[np.float64]


def bin_edges(values: FloatArray, bins: int = BINS) -> list[float]:
    """Inner edges of ``bins`` quantile bins (duplicates removed for discrete features)."""
    if len(values) == 0:
        return []
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


def numeric_shares(values: FloatArray, edges: Sequence[float]) -> FloatArray:
    """Shares of the bins, then of missing values (NaN), over all values."""
    present = values[~np.isnan(values)]
    counts = np.append(proportions(present, edges) * len(present), len(values) - len(present))
    return counts / len(values) if len(values) else counts


def category_shares(values: Sequence[Any], categories: Sequence[str]) -> FloatArray:
    """Shares of each category, then of unseen values, then of missing ones."""
    index = {value: i for i, value in enumerate(categories)}
    counts = np.zeros(len(categories) + 2)
    for value in values:
        counts[len(categories) + 1 if value is None else index.get(value, len(categories))] += 1
    return counts / len(values) if len(values) else counts


def feature_reference(frame: pl.DataFrame, contract: Contract) -> dict[str, Any]:
    """Per model input: bins (numbers) or categories, and the training shares."""
    features: dict[str, Any] = {}
    for feature in contract.inputs:
        column = frame[feature.name]
        if feature.numeric:
            values = as_floats(column)
            edges = bin_edges(values[~np.isnan(values)])
            features[feature.name] = {"kind": "numeric", "edges": edges,
                                      "expected": numeric_shares(values, edges).tolist()}  # fmt: skip
        else:
            seen = sorted({v for v in column.to_list() if v is not None})
            features[feature.name] = {"kind": "category", "values": seen,
                                      "expected": category_shares(column.to_list(), seen).tolist()}  # fmt: skip
    return {"features": features}


def prediction_reference(probabilities: FloatArray, classes: Sequence[str]) -> dict[str, Any]:
    return {
        "classes": list(classes),
        "edges": PROBABILITY_EDGES,
        "expected": [proportions(probabilities[:, i], PROBABILITY_EDGES).tolist() for i in range(len(classes))],
    }


def live_edges(spec: dict[str, Any]) -> list[float]:
    """Edges that bin an encoded live value (see ``encode``) into the reference's bins."""
    if spec["kind"] == "numeric":
        return [*spec["edges"], MISSING_EDGE]
    return [i + 0.5 for i in range(len(spec["values"]) + 1)]


def encode(
    numbers: FloatArray,
    categories: Mapping[str, Sequence[str | None]],
    names: Sequence[str],
    reference: dict[str, Any],
) -> FloatArray:
    """One float per value of each feature in ``names``: numbers as they are (missing = +inf),
    categories as their index in the reference (unseen = len(values), missing = len(values) + 1).
    ``numbers`` holds the numeric features of ``names``, in that order."""
    encoded = np.empty((numbers.shape[0], len(names)))
    numeric_at = [i for i, name in enumerate(names) if reference["features"][name]["kind"] == "numeric"]
    encoded[:, numeric_at] = np.where(np.isnan(numbers), np.inf, numbers)
    for position, name in enumerate(names):
        spec = reference["features"][name]
        if spec["kind"] == "numeric":
            continue
        index = {value: float(i) for i, value in enumerate(spec["values"])}
        unseen, missing = float(len(index)), float(len(index) + 1)
        encoded[:, position] = [missing if v is None else index.get(v, unseen) for v in categories[name]]
    return encoded


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
        window = self.recent.maxlen or 0
        entering = indices[-window:] if window else indices[:0]  # earlier ones would enter and leave at once
        leaving = min(len(self.recent), max(0, len(self.recent) + len(entering) - window))
        if leaving:
            self.counts -= self._tally(np.stack([self.recent.popleft() for _ in range(leaving)]))
        if len(entering):
            self.counts += self._tally(entering)
            self.recent.extend(entering)

    def _tally(self, indices: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """How many of ``indices`` (shape (n, variables)) fall in each variable's bins (one bincount)."""
        width = self.counts.shape[1]
        flat = (self._rows[None, :] * width + indices).ravel()
        return np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)

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
        """``names``: the features observed (the model inputs); gauges are recomputed at most every
        ``publish_every`` seconds (PSI over 30 features per request would cost more than the prediction)."""
        if min_samples > window:
            raise ValueError("min_samples must not exceed the window")
        self.reference = reference
        self.gauges = gauges
        self.min_samples = min_samples
        self.names = list(names)
        specs = [reference["features"][name] for name in self.names]
        self._expected = [spec["expected"] for spec in specs]
        self._features = _WindowedHistograms([live_edges(spec) for spec in specs], window)
        predictions = reference["prediction"]
        self._classes = len(predictions["expected"])
        self._predictions = _WindowedHistograms([predictions["edges"]] * self._classes, window)
        self._lock = threading.Lock()
        self._publish_every = publish_every
        self._published = float("-inf")

    def observe(
        self, numbers: FloatArray, categories: Mapping[str, Sequence[str | None]], probabilities: FloatArray
    ) -> None:
        """``numbers``: the numeric features (in ``names`` order); ``categories``: each category
        feature's values; ``probabilities``: shape (n, classes), in the reference's class order."""
        encoded = encode(numbers, categories, self.names, self.reference)
        with self._lock:
            self._features.add(encoded)
            self._predictions.add(probabilities)
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
            name: psi(expected, self._features.shares(index, len(expected)))
            for index, (name, expected) in enumerate(zip(self.names, self._expected, strict=True))
        }

    def _prediction_psi(self) -> float:
        expected = self.reference["prediction"]["expected"]
        values = [psi(e, self._predictions.shares(i, len(e))) for i, e in enumerate(expected)]
        return float(np.mean(values))

    def snapshot(self) -> dict[str, Any]:
        """Current PSI values (None below the minimum sample count)."""
        with self._lock:
            samples = len(self._predictions.recent)
            if samples < self.min_samples:
                return {"samples": samples, "features": None, "prediction": None}
            return {"samples": samples, "features": self._feature_psi(), "prediction": self._prediction_psi()}
