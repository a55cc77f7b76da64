"""The whole model loop on real processes: `slipway serve` (bentoml) answering a synthetic world,
people's labels through the review API, a real Prometheus evaluating the kit's generated alert
rules, and `slipway loop reconcile`, `promote` and `rollback` as the CronJob and the admins run them.

A label shift inside one channel makes the audited accuracy fall: the loop retrains, the candidate
beats the champion on the frozen set, the loop asks for approval, a second person approves, the
challenger answers in shadow, is promoted into the stack file, and a rollback restores the
champion. Harmless drift in a number the outcome never depended on only makes the model suspect.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from contracts.examples.loop_world import CONTRACT, cases, write_labelled
from runbooks.rehearsal import LocalPrometheus, local_prometheus
from slipway.identity.dev_issuer import DevIssuer
from tests.bentos.server import free_port, running
from tests.conftest import BENTOML_HOME, PROJECT_DIR, SLIPWAY

pytestmark = pytest.mark.slow


@dataclass
class World:
    home: Path
    env: dict[str, str]
    project: Path
    tokens: dict[str, Path]
    champion: str
    port: int

    def slipway(self, *args: str, check: bool = True, **extra: str) -> Any:
        result = subprocess.run([SLIPWAY, *args], env={**self.env, **extra}, cwd=self.project,
                                capture_output=True, text=True, check=False)  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"slipway {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def reconcile(self, prometheus_url: str, *extra: str) -> dict[str, Any]:
        result = self.slipway("loop", "reconcile", "--prometheus", prometheus_url, "--token-file",
                              str(self.tokens["loop"]), *extra)  # fmt: skip
        return dict(json.loads(result.stdout))

    def server_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, "SLIPWAY_MODEL": self.champion, **extra}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    home, project = tmp_path / "home", tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: loop-test\nruntime: python\n")
    (project / "Pulumi.loop.yaml").write_text("config:\n  slipway:modelArtifactDigest: sha256:before\n"
                                              "  slipway:modelSignature: before\n")  # fmt: skip
    criteria = yaml.safe_load((PROJECT_DIR / "lifecycle" / "promotion.yaml").read_text())
    criteria["shadow"] = {"seconds": 0, "min_records": 50}  # this world's pre-registered shadow: no wall-clock wait
    (tmp_path / "promotion.yaml").write_text(yaml.safe_dump(criteria))
    env = {**os.environ, "SLIPWAY_HOME": str(home), "BENTOML_HOME": str(BENTOML_HOME),
           "SLIPWAY_CONTRACT": str(CONTRACT), "SLIPWAY_AUDIT_SAMPLE_RATE": "1", "SLIPWAY_REVIEW_FOUR_EYES": "false",
           "SLIPWAY_DRIFT_PUBLISH_SECONDS": "0", "SLIPWAY_LOOP_CRITERIA": str(tmp_path / "promotion.yaml"),
           "SLIPWAY_LOOP_COOLDOWN_SECONDS": "0", "SLIPWAY_LOOP_MIN_NEW_LABELS": "50"}  # fmt: skip
    issuer = DevIssuer(home / "auth")
    with issuer.serving():
        tokens = {}
        for name, subject, role in (("loop", "svc.loop", "admin"), ("admin", "dr.admin", "admin"),
                                    ("reviewer", "dr.review", "reviewer")):  # fmt: skip
            tokens[name] = tmp_path / f"{name}.jwt"
            tokens[name].write_text(issuer.mint(subject, [role], ttl=3600))
        partial = World(home, env, project, tokens, "", free_port())
        partial.slipway("keys", "generate")
        old = write_labelled(tmp_path / "old.csv", cases(1000, 1))
        trained = json.loads(partial.slipway("train", "--data", str(old)).stdout)
        partial.champion = trained["tag"]
        yield partial


def _label_everything(url: str, token: Path, truth: dict[tuple[str, int], str], timeout: float = 120.0) -> int:
    """People decide every case with the world's truth (claim, then resolve at that version), until
    every record sent has been decided: with an audit rate of 1 each is either routed or audited, and
    the audit copies are stored off the request path, so some arrive while the labelling runs."""
    headers = {"Authorization": f"Bearer {token.read_text()}"}
    decided, deadline = 0, time.monotonic() + timeout
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while decided < len(truth):
            assert time.monotonic() < deadline, f"only {decided} of {len(truth)} cases reached the queue"
            for item in client.post("/review/pending", json={"limit": 200}).json()["items"]:
                claimed = client.post("/review/claim", json={"review_id": item["review_id"]}).json()
                label = truth[(item["request_id"], item["item"])]
                decision = {"review_id": item["review_id"], "label": label, "version": claimed["version"],
                            "note": "the world's truth"}  # fmt: skip
                resolved = client.post("/review/resolve", json=decision)
                assert resolved.status_code == 200, resolved.text
                decided += 1
    return decided


def _scraped(prom: LocalPrometheus) -> None:
    """Prometheus has the server's counters before anything happens (increase() needs a first sample)."""
    prom.wait_for(lambda p: p.value("max(slipway_audit_labelled_total)") is not None, "a first scrape")


def _send(url: str, labelled: list[tuple[dict[str, Any], str]], prefix: str) -> dict[tuple[str, int], str]:
    truth = {}
    for start in range(0, len(labelled), 50):
        batch = labelled[start : start + 50]
        request_id = f"{prefix}-{start}"
        answer = httpx.post(f"{url}/predict", json={"records": [r for r, _ in batch], "request_id": request_id},
                            timeout=30)  # fmt: skip
        assert answer.status_code == 200, answer.text
        truth.update({(request_id, i): t for i, (_, t) in enumerate(batch)})
    return truth


def test_harmless_drift_makes_the_model_suspect_and_never_retrains(world: World, tmp_path: Path) -> None:
    with local_prometheus([f"127.0.0.1:{world.port}"], tmp_path / "prometheus") as prom, \
            running(world.server_env(), tmp_path / "server.log", world.port) as server:  # fmt: skip
        server.wait_until_up("/readyz")
        _scraped(prom)
        truth = _send(server.url, cases(300, 5, drift=True), "drift")
        assert _label_everything(server.url, world.tokens["reviewer"], truth) >= 50
        prom.wait_for(lambda p: "FeatureDrift" in p.firing(), "FeatureDrift firing on x2")
        prom.wait_for(lambda p: (p.value("max(increase(slipway_audit_labelled_total[1h]))") or 0) >= 30,
                      "the audit labels scraped")  # fmt: skip
        assert "AuditAccuracyLow" not in prom.firing()  # the outcome never depended on x2
        trained_before = (world.home / "metrics" / "training.prom").read_text()
        outcome = world.reconcile(prom.url)
    assert outcome["state"] == "suspect" and "drift only" in outcome["reason"], outcome
    assert outcome["attempts"] == 0 and (world.home / "metrics" / "training.prom").read_text() == trained_before
    status = json.loads(world.slipway("loop", "status").stdout)
    assert status["champion"]["tag"] == world.champion and status["promotion"] is None


def test_a_label_shift_is_caught_retrained_approved_shadowed_promoted_and_rolled_back(
    world: World, tmp_path: Path
) -> None:
    fresh = write_labelled(tmp_path / "fresh.csv", cases(1000, 3, shift=True))  # the label feed's latest records
    with local_prometheus([f"127.0.0.1:{world.port}"], tmp_path / "prometheus") as prom:
        with running(world.server_env(), tmp_path / "server.log", world.port) as server:
            server.wait_until_up("/readyz")
            _scraped(prom)
            truth = _send(server.url, cases(300, 2, shift=True), "shifted")
            assert _label_everything(server.url, world.tokens["reviewer"], truth) >= 100
            prom.wait_for(lambda p: "AuditAccuracyLow" in p.firing(), "AuditAccuracyLow firing")
            outcome = world.reconcile(prom.url, "--data", str(fresh), "--stack", "loop")
            assert outcome["state"] == "awaiting-approval", outcome
            promotion_id = outcome["promotion_id"]
            own = world.slipway("promote", "approve", promotion_id, "--reason", "mine", "--token-file",
                                str(world.tokens["loop"]), check=False)  # fmt: skip
            assert own.returncode == 1 and "another person must approve" in own.stderr  # four eyes
            world.slipway("promote", "approve", promotion_id, "--reason", "report read: channel b fixed",
                          "--token-file", str(world.tokens["admin"]))  # fmt: skip
            outcome = world.reconcile(prom.url, "--stack", "loop")
            assert outcome["state"] == "shadow", outcome
        challenger = _promotion(world, promotion_id)["challenger"]
        # the deploy the shadow step asks for: the champion serving, the challenger beside it in shadow
        shadow_env = world.server_env(
            SLIPWAY_SHADOW_MODEL=challenger["tag"], SLIPWAY_SHADOW_MODEL_DIGEST=challenger["digest"]
        )
        with running(shadow_env, tmp_path / "shadow.log", world.port) as server:
            server.wait_until_up("/readyz")
            answers = httpx.post(f"{server.url}/predict", timeout=30,
                                 json={"records": [r for r, _ in cases(60, 9, shift=True)]}).json()  # fmt: skip
            assert answers["model"]["digest"] == _champion(world)["digest"]  # the shadow's answers never go out
            query = f'max(slipway_shadow_records_total{{digest="{challenger["digest"]}"}})'
            prom.wait_for(lambda p: (p.value(query) or 0) >= 50, "the shadow's answers scraped")
            outcome = world.reconcile(prom.url, "--stack", "loop")
    assert outcome["state"] == "promoted", outcome
    assert _champion(world)["digest"] == challenger["digest"]
    stack = yaml.safe_load((world.project / "Pulumi.loop.yaml").read_text())["config"]
    assert stack["slipway:modelArtifactDigest"] == challenger["digest"]
    rolled = json.loads(world.slipway("rollback", "--reason", "drill", "--stack", "loop", "--token-file",
                                      str(world.tokens["admin"])).stdout)  # fmt: skip
    assert rolled["to"]["tag"] == world.champion
    stack = yaml.safe_load((world.project / "Pulumi.loop.yaml").read_text())["config"]
    assert stack["slipway:modelArtifactDigest"] == _champion(world)["digest"] == rolled["to"]["digest"]
    verified = json.loads(world.slipway("audit", "verify", "promotions").stdout)
    events = {(a["event"], a["subject"]) for a in verified["actors"]}
    assert {("promotion.requested", "svc.loop"), ("promotion.approved", "dr.admin"),
            ("promotion.rolled_back", "dr.admin")} <= events  # fmt: skip
    assert verified["signed"] == verified["records"] >= 5
    assert json.loads(world.slipway("loop", "status").stdout)["state"] == "rolled-back"


def _champion(world: World) -> dict[str, Any]:
    state = json.loads(world.slipway("loop", "status").stdout)
    return dict(state["champion"])


def _promotion(world: World, promotion_id: str) -> dict[str, Any]:
    listed = json.loads(world.slipway("promote", "list").stdout)["promotions"]
    found = next(p for p in listed if p["promotion_id"] == promotion_id)
    trail = [json.loads(line) for line in (world.home / "audit" / "promotions.jsonl").read_text().splitlines()]
    requested = next(
        r for r in trail if r["event"] == "promotion.requested" and r["data"]["promotion_id"] == found["promotion_id"]
    )
    return dict(requested["data"])
