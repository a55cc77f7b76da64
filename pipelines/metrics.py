"""Pipeline metrics, written after every run as a Prometheus text file (node-exporter textfile
collector, or any scraper of ``metrics/pipeline.prom``): a batch job has no endpoint to scrape.

Usage::

    registry = CollectorRegistry()
    record_run(registry, report, duration_seconds)
    write_to_textfile(out / "metrics" / "pipeline.prom", registry)
"""

from __future__ import annotations

import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

OUTCOMES = {"rows_in": "in", "rows_out": "out", "quarantined": "quarantined", "duplicates": "duplicate"}


def record_run(registry: CollectorRegistry, report: dict[str, Any], duration_seconds: float) -> None:
    rows = Gauge(
        "slipway_pipeline_rows",
        "Rows of the last pipeline run per source, by outcome (in = out + quarantined + duplicate).",
        ["source", "outcome"],
        registry=registry,
    )
    schema_changes = Gauge(
        "slipway_pipeline_schema_changes",
        "Files or responses of the last run whose shape differed from the contract (renamed, new or missing columns).",
        ["source"],
        registry=registry,
    )
    up = Gauge(
        "slipway_pipeline_source_up",
        "1 when the source was read in the last run, 0 when it was stale (unreachable) or failed.",
        ["source"],
        registry=registry,
    )
    last_success = Gauge(
        "slipway_pipeline_source_last_success_timestamp_seconds",
        "Unix time of the last run that read the source successfully (absent if it never was).",
        ["source"],
        registry=registry,
    )
    duration = Gauge("slipway_pipeline_run_duration_seconds", "Wall time of the last run.", registry=registry)
    finished = Gauge(
        "slipway_pipeline_last_run_timestamp_seconds", "Unix time at which the last run finished.", registry=registry
    )
    for name, source in report["sources"].items():
        for field, outcome in OUTCOMES.items():
            rows.labels(source=name, outcome=outcome).set(source[field])
        schema_changes.labels(source=name).set(len(source["schema_changes"]))
        up.labels(source=name).set(1 if source["status"] == "ok" else 0)
        if source.get("last_success"):
            last_success.labels(source=name).set(datetime.datetime.fromisoformat(source["last_success"]).timestamp())
    duration.set(duration_seconds)
    finished.set(datetime.datetime.fromisoformat(report["finished"]).timestamp())
