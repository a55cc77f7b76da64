"""The model server's Prometheus metrics, registered on the registry they are given.

Under `bentoml serve` prometheus_client runs in multiprocess mode, so counters and gauges reach
BentoML's /metrics through the multiprocess files (gauges keep the most recent value); only the
scrape-time collectors (``scrape_time``) are appended by the service. In-process, ``registry`` holds
everything.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` durations) and every help
text says what is counted. Queue depth and oldest age are read from the queue at scrape time, so
they are right across restarts and replicas sharing a queue.

Usage::

    registry = CollectorRegistry()
    metrics = ServiceMetrics(registry, queue_depth=queue.depth)
    metrics.predictions.labels(decision="auto").inc()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bentos.classifier.labels import LabelStatistics
from bentos.classifier.routing import REASONS

DECISIONS = ("auto", "review", "review_unavailable")


class _QueueCollector(Collector):
    def __init__(self, depth: Callable[[], tuple[int, float]]) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            count, oldest = self._depth()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the queue is down; the gauges go absent
            return
        yield GaugeMetricFamily("slipway_review_queue_depth", "Reviews waiting for a person.", value=count)
        yield GaugeMetricFamily(
            "slipway_review_oldest_pending_age_seconds",
            "Age of the oldest review still waiting for a person (0 when none wait).",
            value=oldest,
        )


class _LabelCollector(Collector):
    """What people's labels say about the served model, read from the review store at scrape time
    (cumulative counts: replicas sharing a store all report the same, so rules take their max)."""

    def __init__(self, statistics: Callable[[], LabelStatistics]) -> None:
        self._statistics = statistics

    def collect(self) -> Iterator[CounterMetricFamily]:
        try:
            stats = self._statistics()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the queue is down; the series go absent
            return
        for name, help_text, value in (
            ("slipway_audit_labelled", "Audit cases (a random sample of automatic decisions) a person labelled.",
             stats.audit_labelled),
            ("slipway_audit_correct", "Audit cases whose label is what the model decided.", stats.audit_correct),
            ("slipway_audit_weight", "Labelled audit cases, each weighted by 1 / its sampling rate.",
             stats.audit_weight),
            ("slipway_audit_correct_weight", "Audit cases the model got right, each weighted by 1 / its sampling "
             "rate (over slipway_audit_weight_total: the realized accuracy of automatic decisions).",
             stats.audit_correct_weight),
            ("slipway_routed_labelled", "Cases the model routed to a person that a person labelled.",
             stats.routed_labelled),
            ("slipway_routed_correct", "Routed cases whose label is what the model predicted.", stats.routed_correct),
            ("slipway_routed_expected_correct", "Routed labelled cases the model's probabilities expected it to get "
             "right (the sum of its confidence).", stats.routed_expected_correct),
            ("slipway_routed_expected_correct_variance", "Variance of that expectation (the sum of p(1-p)): "
             "(correct - expected) / sqrt(variance) is the calibration check's z.", stats.routed_expected_variance),
        ):  # fmt: skip
            yield CounterMetricFamily(name, help_text, value=value)


class ServiceMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        queue_depth: Callable[[], tuple[int, float]] | None = None,
        classes: Sequence[str] = (),
    ):
        """``classes``: the contract's classes (their per-class counters start at 0)."""
        self.registry = registry
        self._children: dict[tuple[int, str], Any] = {}
        self.predictions = Counter(
            "slipway_predictions_total",
            "Records answered by the model server, by routing decision (auto, review, review_unavailable).",
            ["decision"],
            registry=registry,
        )
        for decision in DECISIONS:
            self.predictions.labels(decision=decision)
        self.predicted_classes = Counter(
            "slipway_predicted_class_total",
            "Records answered by the model server, by the class it predicted (whatever the routing decision).",
            ["predicted_class"],
            registry=registry,
        )
        for label in classes:
            self.predicted_classes.labels(predicted_class=label)
        self.reasons = Counter(
            "slipway_routing_reasons_total",
            "Records routed to review, by reason (a record can have several).",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:
            self.reasons.labels(reason=reason)
        self.out_of_distribution = Counter(
            "slipway_out_of_distribution_inputs_total",
            "Records whose features lie outside the training distribution.",
            registry=registry,
        )
        self.validation_errors = Counter(
            "slipway_input_validation_errors_total",
            "Requests or records rejected by input validation, by problem category.",
            ["problem"],
            registry=registry,
        )
        for problem in ("missing_required", "bad_type", "out_of_range", "unknown_field", "malformed_request",
                        "batch_too_large"):  # fmt: skip
            self.validation_errors.labels(problem=problem)
        self.audit_sampled = Counter(
            "slipway_audit_sampled_total",
            "Automatic decisions drawn at random into the review queue as audit cases (the answer stays automatic).",
            registry=registry,
        )
        self.review_write_failures = Counter(
            "slipway_review_store_write_failures_total",
            "Routed decisions that could not be written to the review queue (answered as review_unavailable).",
            registry=registry,
        )
        self.feature_psi = Gauge(
            "slipway_feature_psi",
            "Population Stability Index of each feature over the live window against the training reference.",
            ["feature"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.prediction_psi = Gauge(
            "slipway_prediction_psi",
            "Population Stability Index of the predicted class probabilities over the live window against "
            "calibration (the mean over the classes).",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.drift_window = Gauge(
            "slipway_drift_window_samples",
            "Records in the live drift window (PSI is published once it reaches the minimum).",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.model_info = Gauge(
            "slipway_model_info",
            "The model being served (value 1).",
            ["name", "version", "digest"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.model_verified = Gauge(
            "slipway_model_signature_valid",
            "1 when the served model's signature verified at start-up, 0 when it was refused.",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.estimated_records = Counter(
            "slipway_estimated_records_total",
            "Records whose correctness is estimated from their calibrated probabilities, by scope (all answered "
            "records, or only those decided automatically).",
            ["scope"],
            registry=registry,
        )
        self.estimated_correct = Counter(
            "slipway_estimated_correct_total",
            "Expected number of correct predictions: the sum of the calibrated probability of each predicted class.",
            ["scope"],
            registry=registry,
        )
        self.estimated_correct_variance = Counter(
            "slipway_estimated_correct_variance_total",
            "Variance of the number of correct predictions: the sum of p(1-p) over the predicted class's "
            "probability p (its square root over the records is the estimate's standard error).",
            ["scope"],
            registry=registry,
        )
        self.estimated_confusion = Counter(
            "slipway_estimated_confusion_total",
            "Expected confusion matrix cells: for records predicted as predicted_class, the sum of the "
            "calibrated probability of true_class (per-class recall = the diagonal over the true_class sum).",
            ["scope", "predicted_class", "true_class"],
            registry=registry,
        )
        self.estimate_calibration_ok = Gauge(
            "slipway_estimate_calibration_ok",
            "1 when the served model passed the calibration check at training (its estimates can be trusted), "
            "0 when it did not or its card has none.",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.accuracy_floor = Gauge(
            "slipway_accuracy_floor",
            "The data contract's min_accuracy: estimated or audited accuracy below it is a failing model.",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        # Read at scrape time, so never in prometheus_client's multiprocess files: a registry of its own.
        self.scrape_time = CollectorRegistry()
        if queue_depth is not None:
            self._at_scrape_time(_QueueCollector(queue_depth))

    def _at_scrape_time(self, collector: Collector) -> None:
        self.registry.register(collector)
        self.scrape_time.register(collector)

    def child(self, metric: Any, value: str) -> Any:
        """``metric.labels(value)`` for a metric with one label, kept: ``labels`` builds and checks the
        label tuple on every call, which showed in the server's profile once per record."""
        key = (id(metric), value)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(value)
        return found

    def watch_labels(self, statistics: Callable[[], LabelStatistics]) -> None:
        """Export what people's labels say about the served model (``bentos.classifier.labels``)."""
        self._at_scrape_time(_LabelCollector(statistics))

    # DriftGauges protocol
    def set_feature_psi(self, feature: str, value: float) -> None:
        self.feature_psi.labels(feature=feature).set(value)

    def set_prediction_psi(self, value: float) -> None:
        self.prediction_psi.set(value)

    def set_window(self, samples: int) -> None:
        self.drift_window.set(samples)
