"""The HTTP contract of the model server, through BentoML's own ASGI app in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bentos.conftest import Trained, dataset, record
from tests.conftest import LocalIssuer
from tests.wdbc import WDBC


def _predict(client: Any, payload: Any, **kwargs: Any) -> Any:
    return client.post("/predict", json=payload, **kwargs)


def test_health_endpoints_and_openapi(client: Any) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    spec = client.get("/docs.json").json()
    assert {"/predict", "/review/pending", "/review/item", "/review/claim", "/review/resolve"} <= set(spec["paths"])


def test_a_confident_benign_case_is_decided_automatically(client: Any, trained: Trained) -> None:
    records, labels = dataset()
    benign = next(i for i, label in enumerate(labels) if label == 0 and i > 20)
    response = _predict(client, {"record": records[benign]}, headers={"X-Request-Id": "req-benign"})
    assert response.status_code == 200
    body = response.json()
    assert response.headers["x-request-id"] == "req-benign" == body["request_id"]
    assert body["model"]["digest"] == trained.digest
    (result,) = body["results"]
    assert result["prediction"] == "benign" and result["decision"] == "auto" and result["final"] is True
    assert result["review_id"] is None and result["reasons"] == []


def test_malignant_predictions_are_high_stakes_and_go_to_review(client: Any) -> None:
    body = _predict(client, {"record": record(0), "request_id": "req-m"}).json()
    (result,) = body["results"]
    assert result["prediction"] == "malignant"
    assert result["decision"] == "review" and result["final"] is False
    assert "high_stakes" in result["reasons"] and result["review_id"].startswith("rv-")


def test_out_of_distribution_inputs_are_flagged(client: Any) -> None:
    strange = record(30, mean_area=9000.0, worst_area=11000.0)
    (result,) = _predict(client, {"record": strange}).json()["results"]
    assert "out_of_distribution" in result["reasons"]
    assert result["decision"] == "review"
    assert set(result["unusual_features"]) >= {"mean_area", "worst_area"}


def test_a_batch_answers_every_record_in_order(client: Any) -> None:
    records, _ = dataset()
    body = _predict(client, {"records": records[:20]}).json()
    assert [r["index"] for r in body["results"]] == list(range(20))


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"record": {"mean_radius": "big"}}, 422, '"problem":"bad_type"'),
        ({"record": {}}, 422, '"problem":"missing_required"'),
        ({"records": []}, 422, "'records' is empty"),
        ({}, 422, "exactly one of 'record'"),
        ({"record": {}, "records": []}, 422, "exactly one of 'record'"),
        ({"record": "text"}, 400, "validation error"),
        ({"record": {}, "request_id": "a\u0080b"}, 422, "request_id must be"),
        ({"record": {}, "request_id": ""}, 422, "request_id must be"),
        ({"records": "text"}, 400, "validation error"),
        ([1, 2, 3], 400, "validation error"),
    ],
)
def test_bad_input_gets_a_4xx_with_field_level_errors(client: Any, payload: Any, status: int, needle: str) -> None:
    response = _predict(client, payload)
    assert response.status_code == status
    assert needle in json.dumps(response.json(), separators=(",", ":"))
    assert "Traceback" not in response.text


def test_field_errors_name_record_and_field(client: Any) -> None:
    bad = record(1, mean_radius=-3.0)
    response = _predict(client, {"records": [record(0), bad]})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"record": 1, "field": "mean_radius", "problem": "out_of_range", "message": "must be within [0, 60]"}
    ]


def test_oversized_batches_and_non_json_bodies(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    response = _predict(client, {"records": [record(0)] * 257})
    assert response.status_code == 413 and "exceeds the limit of 256" in response.json()["error"]
    response = client.post("/predict", content=b"--x\r\n", headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 415
    response = client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]
    nan = b'{"record": {"mean_radius": NaN}}'  # Python's json would take it; JSON has no NaN
    response = client.post("/predict", content=nan, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "NaN is not JSON" in response.json()["detail"]


def test_the_review_flow_is_audited_end_to_end(local_issuer: LocalIssuer, client: Any, home: Path) -> None:
    (result,) = _predict(client, {"record": record(0), "request_id": "req-flow"}).json()["results"]
    review_id = result["review_id"]
    dr_a = local_issuer.headers("dr.a", "reviewer")
    pending = client.post("/review/pending", json={}, headers=dr_a).json()
    assert pending["pending"] == 1 and pending["items"][0]["review_id"] == review_id
    item = client.post("/review/item", json={"review_id": review_id}, headers=dr_a).json()
    assert item["features"]["mean_radius"] == pytest.approx(record(0)["mean_radius"])
    unclaimed = client.post("/review/resolve", json={"review_id": review_id, "label": "malignant", "version": 0},
                            headers=dr_a)  # fmt: skip
    assert unclaimed.status_code == 409 and "claim review" in unclaimed.json()["error"]
    claimed = client.post("/review/claim", json={"review_id": review_id}, headers=dr_a).json()
    assert claimed["claimed_by"] == "dr.a"
    decision = {"review_id": review_id, "label": "malignant", "note": "agree", "version": claimed["version"]}
    first = client.post("/review/resolve", json=decision, headers=dr_a)
    assert first.status_code == 200 and first.json()["stage"] == "second"  # malignant: four eyes
    dr_a_again = client.post("/review/claim", json={"review_id": review_id},
                             headers=local_issuer.headers("dr.a", "reviewer", "second-reviewer"))  # fmt: skip
    assert dr_a_again.status_code == 403 and "another's" in dr_a_again.json()["error"]  # no self-approval
    dr_b = local_issuer.headers("dr.b", "second-reviewer")
    second = client.post("/review/claim", json={"review_id": review_id}, headers=dr_b).json()
    resolved = client.post("/review/resolve", json={**decision, "version": second["version"]}, headers=dr_b)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert resolved.json()["reviewer"] == "dr.b" and resolved.json()["first_reviewer"] == "dr.a"  # tokens' subjects
    again = client.post("/review/claim", json={"review_id": review_id}, headers=dr_b)
    assert again.status_code == 409
    assert client.post("/review/item", json={"review_id": "rv-nope"}, headers=dr_a).status_code == 404
    bad_label = client.post("/review/resolve", json={"review_id": review_id, "label": "maybe", "version": 9},
                            headers=dr_a)  # fmt: skip
    assert bad_label.status_code == 422
    audit = [json.loads(line) for line in (home / "audit" / "reviews.jsonl").read_text().splitlines()]
    assert [(a["event"], a["data"]["request_id"], a["data"].get("subject")) for a in audit] == [
        ("review.created", "req-flow", None),
        ("review.viewed", "req-flow", "dr.a"),
        ("review.claimed", "req-flow", "dr.a"),
        ("review.first_decision", "req-flow", "dr.a"),
        ("review.claimed", "req-flow", "dr.b"),
        ("review.resolved", "req-flow", "dr.b"),
    ]
    assert audit[5]["data"]["issuer"] == local_issuer.url


def test_no_review_endpoint_answers_without_a_valid_token(local_issuer: LocalIssuer, client: Any, home: Path) -> None:
    (result,) = _predict(client, {"record": record(0)}).json()["results"]
    review = {"review_id": result["review_id"]}
    calls = [("/review/pending", {}), ("/review/item", review), ("/review/claim", review),
             ("/review/resolve", {**review, "label": "benign", "version": 1})]  # fmt: skip
    for route, body in calls:
        bare = client.post(route, json=body, headers={"X-Forwarded-User": "dr.a", "X-Remote-User": "admin"})
        assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer"), route
        caller = client.post(route, json=body, headers=local_issuer.headers("svc.triage", "caller"))
        assert caller.status_code == 403, route
    auditor = local_issuer.headers("a.auditor", "auditor")
    assert client.post("/review/pending", json={}, headers=auditor).status_code == 200  # metadata
    assert client.post("/review/item", json={"review_id": result["review_id"]}, headers=auditor).status_code == 403
    events = [json.loads(line)["event"] for line in (home / "audit" / "reviews.jsonl").read_text().splitlines()]
    assert events == ["review.created"]  # no refusal wrote anything


# /metrics itself is exercised against a real `bentoml serve` (test_serve_integration.py): BentoML's
# metrics endpoint needs the multiprocess set-up its server creates. Here the registry is read directly.


def _metrics(home: Path) -> tuple[str, Any]:
    from prometheus_client import CollectorRegistry, generate_latest

    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings

    registry = CollectorRegistry()
    runtime = ModelRuntime.start(ServerSettings(), registry, WDBC)
    return generate_latest(registry).decode(), runtime


def test_metrics_expose_decisions_queue_and_model(home: Path, trained: Trained) -> None:
    from prometheus_client import generate_latest

    _, runtime = _metrics(home)
    runtime.predict({"record": record(0)}, "req-metrics")
    runtime.predict({"record": {"mean_radius": "x"}}, "req-bad")
    text = generate_latest(runtime.metrics.registry).decode()
    assert 'slipway_predictions_total{decision="review"} 1.0' in text
    assert 'slipway_input_validation_errors_total{problem="bad_type"} 1.0' in text
    assert "slipway_review_queue_depth 1.0" in text
    assert f'digest="{trained.digest}"' in text
    assert "slipway_model_signature_valid 1.0" in text
    assert "# HELP slipway_predictions_total Records answered by the model server" in text


def test_drift_gauges_appear_once_the_window_is_full(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import generate_latest

    monkeypatch.setenv("SLIPWAY_DRIFT_PUBLISH_SECONDS", "0")
    _, runtime = _metrics(home)
    records, _ = dataset()
    runtime.predict({"records": records[:99]}, "req-a")
    assert "slipway_feature_psi{" not in generate_latest(runtime.metrics.registry).decode()
    runtime.predict({"records": records[99:199]}, "req-b")
    text = generate_latest(runtime.metrics.registry).decode()
    assert 'slipway_feature_psi{feature="mean_radius"}' in text
    assert "slipway_prediction_psi " in text
    assert "slipway_drift_window_samples 199.0" in text


def test_in_distribution_traffic_shows_no_feature_drift(home: Path) -> None:
    """Regression: columns must map to the features they are (the card stores references by name)."""
    import numpy as np

    _, runtime = _metrics(home)
    records, _ = dataset()
    sample = [records[i] for i in np.random.default_rng(42).permutation(len(records))[:300]]
    runtime.predict({"records": sample[:150]}, "req-a")
    runtime.predict({"records": sample[150:]}, "req-b")
    assert runtime.drift is not None
    snapshot = runtime.drift.snapshot()
    assert max(snapshot["features"].values()) < 0.25, snapshot["features"]
