"""The training text file: the outcome of the last run, and the last success surviving failed runs."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lifecycle.training_metrics import LAST_SUCCESS, write_training_metrics


def _values(path: Path) -> dict[str, float]:
    return {
        f"{s.name}{s.labels.get('outcome', '')}": s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def test_a_failed_run_keeps_the_last_success_time(tmp_path: Path) -> None:
    path = tmp_path / "metrics" / "training.prom"
    write_training_metrics(path, outcome="accepted", accuracy=0.95)
    succeeded = _values(path)[LAST_SUCCESS]
    write_training_metrics(path, outcome="failed")
    after = _values(path)
    assert after[LAST_SUCCESS] == succeeded
    assert after["slipway_training_last_outcomefailed"] == 1.0 and after["slipway_training_last_outcomeaccepted"] == 0.0
    assert "slipway_training_holdout_accuracy" not in after  # no candidate, no accuracy


def test_never_succeeded_means_no_last_success_series(tmp_path: Path) -> None:
    path = tmp_path / "training.prom"
    write_training_metrics(path, outcome="rejected", accuracy=0.5)
    assert LAST_SUCCESS not in _values(path)
