"""A challenger in shadow: it answers every record off the request path; nothing of it is returned."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.bentos.conftest import Trained, dataset
from tests.wdbc import WDBC


def test_the_shadow_answers_everything_and_the_caller_sees_only_the_champion(
    home: Path, trained: Trained, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings
    from lifecycle.train import train
    from slipway.signing import KeyStore

    challenger = train(KeyStore.default(), WDBC, seed=3, estimator="lifecycle.estimators:gradient_boosting",
                       evaluation=trained.keys_dir.parent / "evaluation")  # fmt: skip
    monkeypatch.setenv("SLIPWAY_SHADOW_MODEL", challenger.tag)
    monkeypatch.setenv("SLIPWAY_SHADOW_MODEL_DIGEST", challenger.digest)
    caplog.set_level(logging.INFO, logger="slipway.classifier")
    registry = CollectorRegistry()
    runtime = ModelRuntime.start(ServerSettings(), registry, WDBC)
    assert runtime.shadow is not None
    records, _ = dataset()
    status, answer = runtime.predict({"records": records[:64]}, "req-shadow")
    runtime.shadow.flush()
    assert status == 200 and answer["model"]["digest"] == trained.digest
    labels = {"digest": challenger.digest}
    assert registry.get_sample_value("slipway_shadow_records_total", labels) == 64
    agreements = registry.get_sample_value("slipway_shadow_agreements_total", labels)
    assert agreements is not None and 50 <= agreements <= 64
    assert '"event": "shadow.predicted"' in caplog.text and "mean_radius" not in caplog.text


def test_a_shadow_that_fails_verification_is_left_out_and_the_champion_serves(
    home: Path, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings

    monkeypatch.setenv("SLIPWAY_SHADOW_MODEL", trained.tag)
    monkeypatch.setenv("SLIPWAY_SHADOW_MODEL_DIGEST", "sha256:" + "0" * 64)
    runtime = ModelRuntime.start(ServerSettings(), CollectorRegistry(), WDBC)
    assert runtime.shadow is None and runtime.readiness() is None
