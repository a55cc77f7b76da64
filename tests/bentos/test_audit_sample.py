"""The random audit sample of automatic decisions, and what people's labels say about the model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from prometheus_client import CollectorRegistry

from bentos.classifier.review_queue import ReviewQueue
from slipway.identity import Identity
from tests.bentos.conftest import Trained, dataset
from tests.conftest import LocalIssuer
from tests.wdbc import WDBC

DIGEST = "sha256:" + "b" * 64


def _who(subject: str) -> Identity:
    return Identity("https://idp.example", subject, subject, frozenset({"reviewer"}), f"jti-{subject}")


def _labelled(queue: ReviewQueue, index: int, *, prediction: str, probability: float, label: str,
              sample_rate: float | None) -> None:  # fmt: skip
    review_id = queue.enqueue(f"req-{index}", 0, features={"x": 1.0}, prediction=prediction, probability=probability,
                              reasons=["audit"] if sample_rate else ["low_confidence"], model_version="v1",
                              model_digest=DIGEST, sample_rate=sample_rate)  # fmt: skip
    who = _who("dr.a")
    claimed = queue.claim(review_id, who=who)
    queue.resolve(review_id, label=label, reviewer=who, version=claimed.version)


def test_label_statistics_weigh_audit_cases_and_test_calibration_on_routed_ones(tmp_path: Path) -> None:
    queue = ReviewQueue(tmp_path / "q.db", Fernet.generate_key(), contract=WDBC, four_eyes=())
    for i, label in enumerate(["benign", "benign", "benign", "malignant"]):  # audit: 3 of 4 right
        _labelled(queue, i, prediction="benign", probability=0.95, label=label, sample_rate=0.25)
    for i, label in enumerate(["benign", "malignant"]):  # routed: 1 of 2 right, 1.2 expected
        _labelled(queue, 10 + i, prediction="benign", probability=0.6, label=label, sample_rate=None)
    stats = queue.label_statistics(DIGEST)
    assert (stats.audit_labelled, stats.audit_correct, stats.audit_weight) == (4, 3, 16.0)
    assert stats.audit_accuracy == 0.75
    assert (stats.routed_labelled, stats.routed_correct) == (2, 1)
    assert math.isclose(stats.routed_expected_correct, 1.2) and math.isclose(stats.routed_expected_variance, 0.48)
    assert math.isclose(stats.routed_z or 0.0, (1 - 1.2) / math.sqrt(0.48))
    assert queue.label_statistics("sha256:" + "c" * 64).audit_labelled == 0  # another model starts from nothing


def test_a_sampled_automatic_decision_stays_automatic_and_goes_to_review_as_audit(
    home: Path, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings

    monkeypatch.setenv("SLIPWAY_AUDIT_SAMPLE_RATE", "1")
    registry = CollectorRegistry()
    runtime = ModelRuntime.start(ServerSettings(), registry, WDBC)
    records, _ = dataset()
    status, answer = runtime.predict({"records": records[:40]}, "req-audit")
    runtime.flush_audit_samples()  # the copies are stored off the request path
    assert status == 200
    auto = [r for r in answer["results"] if r["decision"] == "auto"]
    assert auto and all(r["final"] and r["review_id"] is None for r in auto)  # nothing tells the caller
    assert runtime.queue is not None
    pending = runtime.queue.pending(limit=100)
    audits = [i for i in pending if i.audit]
    assert len(audits) == len(auto) and all(i.reasons == ["audit"] and i.sample_rate == 1.0 for i in audits)
    assert registry.get_sample_value("slipway_audit_sampled_total") == len(auto)
    who = _who("dr.audit")
    for item in audits[:3]:
        claimed = runtime.queue.claim(item.review_id, who=who)
        runtime.queue.resolve(item.review_id, label=item.prediction, reviewer=who, version=claimed.version)
    assert registry.get_sample_value("slipway_audit_labelled_total") == 3
    assert registry.get_sample_value("slipway_audit_correct_weight_total") == 3.0


@pytest.fixture
def audit_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_AUDIT_SAMPLE_RATE", "1")


def test_the_review_page_hides_the_models_answer_on_an_audit_case(
    audit_everything: None, local_issuer: LocalIssuer, client: Any
) -> None:
    records, malignant = dataset()
    benign = [r for r, m in zip(records, malignant, strict=True) if not m][:20]
    answers = client.post("/predict", json={"records": benign, "request_id": "req-blind"}).json()["results"]
    assert any(a["decision"] == "auto" for a in answers)
    from bentos.classifier.service import _CURRENT

    _CURRENT[0].runtime.flush_audit_samples()  # the copies are stored off the request path
    dr_a = local_issuer.headers("dr.a", "reviewer")
    queue = client.get("/ui/?reason=audit", headers=dr_a).text
    assert "hidden (audit)" in queue and "benign (" not in queue
    review_id = queue.split("data-case>")[1].split("<")[0]
    case = client.get(f"/ui/case/{review_id}", headers=dr_a).text
    assert "An audit case" in case and "said <strong>" not in case
