"""Metrics of the last training run, written as a Prometheus text file (a batch job has no endpoint).

``slipway train`` writes ``$SLIPWAY_HOME/metrics/training.prom`` (and pushes to the Pushgateway named
by ``SLIPWAY_PUSHGATEWAY``, if any) whatever the outcome, so the
``RetrainingFailed`` alert sees a rejected candidate or a crashed run, and the last successful
run's time survives a failed one.

Usage::

    write_training_metrics(path, outcome="accepted", accuracy=0.956)
"""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from slipway.metrics_publish import publish

OUTCOMES = ("accepted", "rejected", "failed")
LAST_SUCCESS = "slipway_training_last_success_timestamp_seconds"


def training_registry(outcome: str, accuracy: float | None, last_success: float | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    result = Gauge(
        "slipway_training_last_outcome",
        "1 for the outcome of the last training run: accepted (signed and stored), rejected (below the "
        "promotion bar, nothing stored) or failed (the run stopped with an error).",
        ["outcome"],
        registry=registry,
    )
    for name in OUTCOMES:
        result.labels(outcome=name).set(1 if name == outcome else 0)
    Gauge("slipway_training_last_run_timestamp_seconds", "Unix time the last training run ended.",
          registry=registry).set(time.time())  # fmt: skip
    if accuracy is not None:
        Gauge("slipway_training_holdout_accuracy", "Held-out accuracy of the last trained candidate.",
              registry=registry).set(accuracy)  # fmt: skip
    if last_success is not None:
        Gauge(LAST_SUCCESS, "Unix time of the last training run whose candidate was stored.",
              registry=registry).set(last_success)  # fmt: skip
    return registry


def _previous_success(path: Path) -> float | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name == LAST_SUCCESS and family.samples:
            return float(family.samples[0].value)
    return None


def write_training_metrics(path: Path, *, outcome: str, accuracy: float | None = None) -> None:
    last_success = time.time() if outcome == "accepted" else _previous_success(path)
    publish(training_registry(outcome, accuracy, last_success), path, job="slipway-training")
