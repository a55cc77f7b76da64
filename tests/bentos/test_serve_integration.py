"""A real `bentoml serve` process on loopback: ready only with a verified model, durable reviews."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import bentoml
import httpx
import pytest

from tests.bentos.conftest import Trained, record
from tests.bentos.server import running
from tests.conftest import BENTOML_HOME, LocalIssuer

pytestmark = pytest.mark.slow


def _env(home: Path, tag: str) -> dict[str, str]:
    return {"SLIPWAY_HOME": str(home), "BENTOML_HOME": str(BENTOML_HOME), "SLIPWAY_MODEL": tag,
            "BENTOML_DO_NOT_TRACK": "true"}  # fmt: skip


def test_serves_predictions_metrics_and_docs(home: Path, trained: Trained) -> None:
    with running(_env(home, trained.tag), home / "server.log") as server:
        server.wait_until_up("/readyz")
        response = httpx.post(f"{server.url}/predict", json={"record": record(0)}, timeout=10)
        assert response.status_code == 200
        assert response.json()["results"][0]["decision"] == "review"
        bad = httpx.post(f"{server.url}/predict", json={"record": {"mean_radius": "x"}}, timeout=10)
        assert bad.status_code == 422
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert 'slipway_predictions_total{decision="review"} 1.0' in metrics
        assert "slipway_review_queue_depth 1.0" in metrics
        assert 'slipway_estimated_records_total{scope="all"} 1.0' in metrics  # through the multiprocess files
        assert "slipway_estimate_calibration_ok 1.0" in metrics
        assert "bentoml_service_request_total" in metrics
        assert httpx.get(f"{server.url}/docs.json", timeout=10).json()["paths"]["/predict"]
    log = server.log.read_text()  # once stopped: every line is written
    events = [json.loads(line) for line in log.splitlines() if line.startswith('{"time"')]
    assert {"model.verified", "predict"} <= {e.get("event") for e in events}
    predict = next(e for e in events if e.get("event") == "predict")
    assert predict["request_id"].startswith("req-") and predict["decisions"] == ["review"]
    assert "17.99" not in log  # no raw feature values in logs


def _requests(metrics: str, code: str) -> float:
    """``bentoml_service_request_total`` for /predict with ``code``, from a /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "bentoml_service_request_total"
        and sample.labels.get("endpoint") == "/predict" and sample.labels.get("http_response_code") == code
    )  # fmt: skip


def test_predict_is_answered_in_front_of_bentoml_s_stack_with_its_metrics_and_access_log(
    home: Path, trained: Trained
) -> None:
    with running(_env(home, trained.tag), home / "server.log") as server:
        server.wait_until_up("/readyz")
        assert httpx.post(f"{server.url}/predict", json={"record": record(1)}, timeout=10).status_code == 200
        assert httpx.post(f"{server.url}/predict", json={"record": record(2)}, timeout=10).status_code == 200
        bad = httpx.post(f"{server.url}/predict", json={"record": {"mean_radius": "x"}}, timeout=10)
        not_json = httpx.post(f"{server.url}/predict", content=b"a=1", timeout=10,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert (bad.status_code, not_json.status_code) == (422, 415)
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    log = server.log.read_text()  # once stopped: every line is written
    assert "/predict front door: installed" in log
    assert (_requests(metrics, "200"), _requests(metrics, "422"), _requests(metrics, "415")) == (2, 1, 1)
    assert 'bentoml_service_request_duration_seconds_count{endpoint="/predict"' in metrics
    access = (
        r"path=/predict,type=application/json,length=\d+\) \(status=422,type=application/json,length=\d+\) [\d.]+ms"
    )
    assert re.search(access, log), "BentoML's access log line, as its middleware words it"


def test_with_tracing_on_predict_stays_inside_bentoml_s_stack(home: Path, trained: Trained) -> None:
    env = {**_env(home, trained.tag), "BENTOML_CONFIG_OPTIONS": "services.classifier.tracing.exporter_type=in_memory"}
    with running(env, home / "server.log") as server:
        server.wait_until_up("/readyz")
        assert httpx.post(f"{server.url}/predict", json={"record": record(1)}, timeout=10).status_code == 200
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    log = server.log.read_text()  # once stopped: every line is written
    assert "/predict front door: a trace exporter is configured" in log
    assert _requests(metrics, "200") == 1  # counted by BentoML's own middleware


def test_pending_reviews_survive_a_restart(local_issuer: LocalIssuer, home: Path, trained: Trained) -> None:
    env = _env(home, trained.tag)
    reviewer = local_issuer.headers("dr.a", "reviewer")
    with running(env, home / "first.log") as server:
        server.wait_until_up("/readyz")
        body = httpx.post(f"{server.url}/predict", json={"record": record(0), "request_id": "req-durable"}).json()
        review_id = body["results"][0]["review_id"]
    with running(env, home / "second.log") as server:
        server.wait_until_up("/readyz")
        pending = httpx.post(f"{server.url}/review/pending", json={}, headers=reviewer, timeout=10).json()
        assert [i["review_id"] for i in pending["items"]] == [review_id]
        again = httpx.post(f"{server.url}/predict", json={"record": record(0), "request_id": "req-durable"}).json()
        assert again["results"][0]["review_id"] == review_id  # idempotent across restarts
        assert httpx.post(f"{server.url}/review/pending", json={}, headers=reviewer).json()["pending"] == 1


def test_a_tampered_model_never_becomes_ready(home: Path, trained: Trained) -> None:
    source = Path(bentoml.models.get(trained.tag).path)
    with bentoml.models.create("classifier") as model:
        for name in ("model.joblib", "card.json", "signature.json"):
            shutil.copy(source / name, Path(model.path) / name)
        tampered_tag = str(model.tag)
    card_path = Path(bentoml.models.get(tampered_tag).path) / "card.json"
    card = json.loads(card_path.read_text())
    card["thresholds"]["confidence"] = 0.5001  # make the model "decide" everything itself
    card_path.write_text(json.dumps(card))
    with running(_env(home, tampered_tag), home / "tampered.log") as server:
        server.wait_until_up("/livez")
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert "failed signature verification" in ready.text
        predict = httpx.post(f"{server.url}/predict", json={"record": record(0)}, timeout=10)
        assert predict.status_code == 503
        assert "slipway_model_signature_valid 0.0" in httpx.get(f"{server.url}/metrics", timeout=10).text
    log = server.log.read_text()  # once stopped: every line is written
    refusals = [json.loads(line) for line in log.splitlines() if '"model refused' in line and line.startswith("{")]
    assert refusals and refusals[0]["level"] == "error"


def test_no_answered_review_is_lost_when_the_server_is_killed_under_load(
    local_issuer: LocalIssuer, home: Path, trained: Trained
) -> None:
    """Concurrent requests are scored in shared batches and their review writes group-committed; an
    answer that says "review" waited for its own commit, so SIGKILL mid-load loses none of them."""
    import asyncio
    import signal

    from tests.bentos.conftest import dataset

    records, _ = dataset()
    env = _env(home, trained.tag)
    answered: list[str] = []
    killed: list[str] = []
    with running(env, home / "first.log") as server:
        server.wait_until_up("/readyz")

        async def load() -> None:
            async with httpx.AsyncClient(timeout=30) as client:

                async def one(index: int) -> None:
                    try:
                        response = await client.post(f"{server.url}/predict", json={"record": records[index % 500]})
                    except httpx.HTTPError:
                        return  # sent after the kill
                    for result in response.json()["results"]:
                        if result["decision"] == "review":
                            answered.append(result["review_id"])
                    if len(answered) >= 60 and server.process.poll() is None:
                        killed.extend(server.kill())  # mid-load, workers included: other writes in flight

                for start in range(0, 2000, 32):
                    await asyncio.gather(*(one(i) for i in range(start, start + 32)))
                    if server.process.poll() is not None:
                        return

        loop = asyncio.new_event_loop()  # its own loop: asyncio.run() would unset the thread's for later tests
        try:
            loop.run_until_complete(load())
        finally:
            loop.close()
        assert server.process.wait(timeout=30) == -signal.SIGKILL
    assert any("_bentoml_impl.worker.service" in command for command in killed)  # the worker that writes
    assert len(answered) >= 60
    reviewer = local_issuer.headers("dr.a", "reviewer")
    with running(env, home / "second.log") as server:
        server.wait_until_up("/readyz")
        stored: set[str] = set()
        while True:
            page = httpx.post(f"{server.url}/review/pending", json={"limit": 500, "offset": len(stored)},
                              headers=reviewer, timeout=30).json()  # fmt: skip
            if not page["items"]:
                break
            stored |= {i["review_id"] for i in page["items"]}
    assert set(answered) <= stored
