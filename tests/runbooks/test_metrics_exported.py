"""Every metric an alert reads is one the code really exports: checked against the real registries
(the model server's, the pipeline's text file after a real run, the training run's) and, for
BentoML's own metrics, against the /metrics of a real `bentoml serve`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.parser import text_string_to_metric_families

from bentos.classifier.labels import LabelStatistics
from bentos.classifier.metrics import ServiceMetrics
from lifecycle.loop import LoopState, loop_registry
from lifecycle.training_metrics import training_registry
from runbooks.generate import RULES, RUNBOOKS
from slipway.signing import KeyStore
from tests.bentos.conftest import Trained, home, record, trained  # noqa: F401 - fixtures for the live server
from tests.bentos.server import running
from tests.conftest import BENTOML_HOME, PROJECT_DIR, SLIPWAY
from tests.runbooks.promql import metric_names

PROMETHEUS_SYNTHETIC = {"up"}  # written by Prometheus itself for every scrape target


def _names(families: Iterable[Metric]) -> set[str]:
    names = set()
    for family in families:
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
    return names


def _read_by_alerts() -> set[str]:
    rules = yaml.safe_load((RUNBOOKS / RULES).read_text())["groups"][0]["rules"]
    return set().union(*(metric_names(rule["expr"]) for rule in rules))


def _slipway_exported(tmp_path: Path) -> set[str]:
    service = CollectorRegistry()
    ServiceMetrics(service, queue_depth=lambda: (0, 0.0)).watch_labels(LabelStatistics)
    jobs_home = tmp_path / "home"
    KeyStore(jobs_home / "keys").generate()
    run = subprocess.run(
        [SLIPWAY, "pipeline", "run", "--config", str(PROJECT_DIR / "pipelines/samples/pipeline.yaml"),
         "--out", str(tmp_path / "pipeline")],
        env={**os.environ, "SLIPWAY_HOME": str(jobs_home)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr  # the samples include an offline source
    pipeline = text_string_to_metric_families((tmp_path / "pipeline/metrics/pipeline.prom").read_text())
    training = training_registry("rejected", 0.5, 1_700_000_000.0)
    loop = loop_registry(LoopState.load(tmp_path / "loop"), needs_person=True)
    return _names(service.collect()) | _names(pipeline) | _names(training.collect()) | _names(loop.collect())


def test_every_slipway_metric_in_an_alert_is_exported(tmp_path: Path) -> None:
    read = _read_by_alerts()
    ours = {name for name in read if name.startswith("slipway_")}
    assert ours, "the alerts must read slipway's own metrics"
    missing = ours - _slipway_exported(tmp_path)
    assert not missing, f"alerts read metrics nothing exports: {sorted(missing)}"
    others = read - ours - PROMETHEUS_SYNTHETIC
    assert all(name.startswith("bentoml_") for name in others), f"unchecked metric sources: {sorted(others)}"


@pytest.mark.slow
def test_every_alert_metric_is_on_a_real_servers_metrics_or_exported_by_the_jobs(
    home: Path,  # noqa: F811
    trained: Trained,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {"SLIPWAY_HOME": str(home), "BENTOML_HOME": str(BENTOML_HOME), "SLIPWAY_MODEL": trained.tag,
           "BENTOML_DO_NOT_TRACK": "true"}  # fmt: skip
    with running(env, tmp_path / "server.log") as server:
        server.wait_until_up("/readyz")
        assert httpx.post(f"{server.url}/predict", json={"record": record(0)}, timeout=10).status_code == 200
        scraped = _names(text_string_to_metric_families(httpx.get(f"{server.url}/metrics", timeout=10).text))
    missing = _read_by_alerts() - scraped - _slipway_exported(tmp_path) - PROMETHEUS_SYNTHETIC
    assert not missing, f"alerts read metrics nothing exports: {sorted(missing)}"
    assert "bentoml_service_request_duration_seconds_bucket" in scraped
