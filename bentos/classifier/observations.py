"""What the drift monitor and the performance estimate learn from answered records, fed in chunks.

Why: both do a fixed amount of array work per call whatever the rows, and under load the batches
of concurrent requests are small (a few records each), so observing every batch cost more than
observing the rows. The records of consecutive batches are kept here and observed together once
``rows`` have gathered or ``seconds`` passed since the oldest of them, and whenever a reader needs
them current: before every /metrics scrape, and after an in-process ``predict``. A scrape therefore
never shows less than was answered before it (in that worker), and the gauges lag by at most
``seconds`` in between.

Usage::

    observations = DeferredObservations(drift, estimate, rows=256, seconds=1.0)
    observations.add(batch.numbers, batch.categories, probabilities, auto)
    observations.flush()                      # before a scrape
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bentos.classifier.drift import DriftMonitor, FloatArray
from bentos.classifier.estimates import PerformanceEstimate


@dataclass
class DeferredObservations:
    drift: DriftMonitor | None
    estimate: PerformanceEstimate | None
    rows: int = 256
    seconds: float = 1.0
    _numbers: list[FloatArray] = field(default_factory=list)
    _categories: list[Mapping[str, Sequence[str | None]]] = field(default_factory=list)
    _probabilities: list[FloatArray] = field(default_factory=list)
    _auto: list[np.ndarray[Any, Any]] = field(default_factory=list)
    _pending: int = 0
    _oldest: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        numbers: FloatArray,
        categories: Mapping[str, Sequence[str | None]],
        probabilities: FloatArray,
        auto: np.ndarray[Any, Any],
    ) -> None:
        """One batch of answered records (``auto``: which were decided without a person)."""
        with self._lock:
            if not self._pending:
                self._oldest = time.monotonic()
            self._numbers.append(numbers)
            self._categories.append(categories)
            self._probabilities.append(probabilities)
            self._auto.append(auto)
            self._pending += len(probabilities)
            due = self._pending >= self.rows or time.monotonic() - self._oldest >= self.seconds
        if due:
            self.flush()

    def flush(self) -> None:
        """Observe every record kept so far."""
        with self._lock:
            if not self._pending:
                return
            numbers, categories, probabilities, auto = self._numbers, self._categories, self._probabilities, self._auto
            self._numbers, self._categories, self._probabilities, self._auto = [], [], [], []
            self._pending = 0
            joined = np.concatenate(probabilities) if len(probabilities) > 1 else probabilities[0]
            if self.drift is not None:
                names = categories[0].keys()
                merged = {name: [v for part in categories for v in part[name]] for name in names}
                self.drift.observe(np.concatenate(numbers) if len(numbers) > 1 else numbers[0], merged, joined)
            if self.estimate is not None:
                self.estimate.observe(joined, auto=np.concatenate(auto) if len(auto) > 1 else auto[0])
