"""What the server does when things go wrong: never a final answer it should not give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from slipway.signing import KeyStore
from tests.bentos.conftest import record
from tests.wdbc import WDBC


def test_an_unwritable_review_store_means_review_unavailable_never_final(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = home / "blocked"
    blocker.write_text("a file where the queue's directory should be")
    monkeypatch.setenv("SLIPWAY_REVIEW_QUEUE", str(blocker / "queue.db"))
    from prometheus_client import CollectorRegistry

    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings

    runtime = ModelRuntime.start(ServerSettings(), CollectorRegistry(), WDBC)
    status, body = runtime.predict({"records": [record(0), record(40)]}, "req-down")
    assert status == 200
    by_decision = {r["decision"] for r in body["results"]}
    assert "review_unavailable" in by_decision and "review" not in by_decision
    for result in body["results"]:
        if result["decision"] == "review_unavailable":
            assert result["final"] is False and result["review_id"] is None
    unavailable = sum(1 for r in body["results"] if r["decision"] == "review_unavailable")
    text = generate_latest(runtime.metrics.registry).decode()
    assert f"slipway_review_store_write_failures_total {float(unavailable)}" in text


def test_a_model_signed_by_another_key_never_becomes_ready(
    home: Path, service_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    other = KeyStore(home / "other-keys")
    other.generate()
    monkeypatch.setenv("SLIPWAY_MODEL_PUBLIC_KEY", str(other.public_key_path))
    with TestClient(service_app, raise_server_exceptions=False) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "model refused" in ready.text and "failed signature verification" in ready.text
        assert client.get("/livez").status_code == 200  # alive, so not restarted in a loop
        response = client.post("/predict", json={"record": record(0)})
        assert response.status_code == 503 and response.json()["error"] == "model not available"


def test_a_missing_model_is_a_clear_refusal(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import CollectorRegistry

    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings

    monkeypatch.setenv("SLIPWAY_MODEL", "classifier:nosuchversion")
    registry = CollectorRegistry()
    runtime = ModelRuntime.start(ServerSettings(), registry, WDBC)
    assert runtime.readiness() == (
        "model refused: model classifier:nosuchversion is not in the model store (run `slipway train`)"
    )
    assert "slipway_model_signature_valid 0.0" in generate_latest(registry).decode()


def test_a_model_made_for_another_contract_is_refused(home: Path) -> None:
    from prometheus_client import CollectorRegistry

    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings
    from slipway.contract import load_contract

    runtime = ModelRuntime.start(ServerSettings(), CollectorRegistry(), load_contract("credit"))
    assert runtime.model is None
    assert runtime.readiness() is not None and "made for contract wdbc v1" in runtime.readiness()  # type: ignore[operator]
    assert runtime.predict({"record": {}}, "req-1")[0] == 503
