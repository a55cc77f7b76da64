"""The model-loop step of `make demo`: a failing model caught and replaced safely, on real processes.

    python -m lifecycle.demo_loop --workdir build/demo-loop

A model is trained on the example world (``contracts/examples/loopworld.yaml``), served by a real
`slipway serve`, and scraped by a real Prometheus evaluating the kit's alert rules (their waiting
periods shortened). The world's label relationship shifts in one channel; people label the random
audit sample and the routed cases; AuditAccuracyLow fires; `slipway loop reconcile` retrains,
evaluates against the champion on the frozen set and asks for approval; the loop's own approval
is refused and a second admin approves; the challenger answers in shadow; the loop promotes it
into a stack file; `slipway rollback` restores the champion; `slipway audit verify promotions`
checks the signed chain. Everything lives under ``--workdir`` (fresh each run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bentos.classifier.demo import serving
from contracts.examples.loop_world import CONTRACT, cases, write_labelled
from runbooks.rehearsal import LocalPrometheus, local_prometheus
from slipway.identity.dev_issuer import DevIssuer
from slipway.processes import free_port

SLIPWAY = str(Path(sys.executable).with_name("slipway"))
CRITERIA = Path(__file__).resolve().parent / "promotion.yaml"


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.project = workdir / "project"
        self.env = {**os.environ, "SLIPWAY_HOME": str(workdir / "home"), "BENTOML_HOME": str(workdir / "bentoml"),
                    "BENTOML_DO_NOT_TRACK": "true", "SLIPWAY_CONTRACT": str(CONTRACT),
                    "SLIPWAY_AUDIT_SAMPLE_RATE": "1", "SLIPWAY_REVIEW_FOUR_EYES": "false",
                    "SLIPWAY_LOOP_CRITERIA": str(workdir / "promotion.yaml"), "SLIPWAY_LOOP_COOLDOWN_SECONDS": "0",
                    "SLIPWAY_LOOP_MIN_NEW_LABELS": "50"}  # fmt: skip
        self.tokens: dict[str, Path] = {}

    def slipway(self, *args: str, allowed: tuple[int, ...] = (0,)) -> Any:
        result = subprocess.run([SLIPWAY, *args], env=self.env, cwd=self.project, capture_output=True, text=True,
                                check=False)  # fmt: skip
        if result.returncode not in allowed:
            raise SystemExit(f"demo: `slipway {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()}")
        return result

    def reconcile(self, prometheus: LocalPrometheus, *extra: str) -> dict[str, Any]:
        result = self.slipway("loop", "reconcile", "--prometheus", prometheus.url, "--stack", "demo", "--token-file",
                              str(self.tokens["loop"]), *extra)  # fmt: skip
        outcome: dict[str, Any] = json.loads(result.stdout)
        print(f"  loop reconcile -> {outcome['state']}: {outcome['reason']}")
        return outcome


def _label_everything(url: str, token: Path, truth: dict[tuple[str, int], str], timeout: float = 120.0) -> int:
    """dr.review decides every case with the world's truth until every record sent is decided (each
    is routed or, at an audit rate of 1, audited; audit copies are stored off the request path)."""
    headers = {"Authorization": f"Bearer {token.read_text()}"}
    decided, deadline = 0, time.monotonic() + timeout
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while decided < len(truth):
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: only {decided} of {len(truth)} cases reached the review queue")
            for item in client.post("/review/pending", json={"limit": 200}).json()["items"]:
                claimed = client.post("/review/claim", json={"review_id": item["review_id"]}).json()
                client.post("/review/resolve", json={"review_id": item["review_id"], "version": claimed["version"],
                                                     "label": truth[(item["request_id"], item["item"])],
                                                     "note": "labelled by the demo's reviewer"})  # fmt: skip
                decided += 1
    return decided


def _send(url: str, labelled: list[tuple[dict[str, Any], str]], prefix: str) -> dict[tuple[str, int], str]:
    truth = {}
    for start in range(0, len(labelled), 50):
        batch, request_id = labelled[start : start + 50], f"{prefix}-{start}"
        httpx.post(f"{url}/predict", json={"records": [r for r, _ in batch], "request_id": request_id}, timeout=30)
        truth.update({(request_id, i): t for i, (_, t) in enumerate(batch)})
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("build/demo-loop"))
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    demo = Demo(workdir)
    demo.project.mkdir(parents=True)
    (demo.project / "Pulumi.yaml").write_text("name: loop-demo\nruntime: python\n")
    (demo.project / "Pulumi.demo.yaml").write_text("config:\n  slipway:modelArtifactDigest: sha256:unset\n"
                                                   "  slipway:modelSignature: unset\n")  # fmt: skip
    criteria = yaml.safe_load(CRITERIA.read_text())
    criteria["shadow"] = {"seconds": 0, "min_records": 50}  # the demo's own pre-registered window: no waiting
    (workdir / "promotion.yaml").write_text(yaml.safe_dump(criteria))
    demo.slipway("keys", "generate")
    trained = json.loads(demo.slipway("train", "--data", str(write_labelled(workdir / "before.csv",
                                                                              cases(1000, 1)))).stdout)  # fmt: skip
    champion = trained["tag"]
    print(f"champion {champion}: trained on the world before the shift "
          f"(frozen-set accuracy {trained['metrics']['accuracy']:.3f})")  # fmt: skip
    fresh = write_labelled(workdir / "fresh.csv", cases(1000, 3, shift=True))
    issuer, port = DevIssuer(workdir / "home" / "auth"), free_port()
    with issuer.serving():
        for name, subject in (("loop", "svc.loop"), ("admin", "dr.admin"), ("reviewer", "dr.review")):
            demo.tokens[name] = workdir / f"{name}.jwt"
            demo.tokens[name].write_text(issuer.mint(subject, ["reviewer" if name == "reviewer" else "admin"]))
        with local_prometheus([f"127.0.0.1:{port}"], workdir / "prometheus") as prometheus:
            _catch_replace_and_promote(demo, prometheus, champion, fresh, port)
        pinned = yaml.safe_load((demo.project / "Pulumi.demo.yaml").read_text())["config"]
        print(f"  Pulumi.demo.yaml now pins {pinned['slipway:modelArtifactDigest'][:23]}…")
        rolled = json.loads(demo.slipway("rollback", "--reason", "demo drill", "--stack", "demo", "--token-file",
                                         str(demo.tokens["admin"])).stdout)  # fmt: skip
        print(f"rollback by dr.admin: {rolled['from']['tag']} -> {rolled['to']['tag']}")
        verified = json.loads(demo.slipway("audit", "verify", "promotions").stdout)
    print(f"promotions trail: {verified['records']} records, chain intact, {verified['signed']} signatures valid")
    for actor in verified["actors"]:
        print(f"  {actor['event']:<22} by {actor['subject']}")


def _catch_replace_and_promote(demo: Demo, prometheus: LocalPrometheus, champion: str, fresh: Path, port: int) -> None:
    server_env = {**demo.env, "SLIPWAY_MODEL": champion}
    with serving(server_env, demo.workdir / "server.log", port) as url:
        prometheus.wait_for(lambda p: p.value("max(slipway_audit_labelled_total)") is not None, "a first scrape")
        truth = _send(url, cases(300, 2, shift=True), "shifted")
        labelled = _label_everything(url, demo.tokens["reviewer"], truth)
        print(f"the world shifted in channel b; 300 cases answered, {labelled} labelled by dr.review "
              "(every automatic decision audited, blind)")  # fmt: skip
        prometheus.wait_for(lambda p: "AuditAccuracyLow" in p.firing(), "AuditAccuracyLow firing")
        audited = prometheus.value("max(slipway_audit_correct_weight_total) / max(slipway_audit_weight_total)")
        print(f"Prometheus: AuditAccuracyLow fires (audited accuracy {audited:.2f}, floor 0.80)")
        outcome = demo.reconcile(prometheus, "--data", str(fresh))
        promotion = str(outcome["promotion_id"])
        own = demo.slipway("promote", "approve", promotion, "--reason", "mine", "--token-file",
                           str(demo.tokens["loop"]), allowed=(1,))  # fmt: skip
        print(f"  approval by the requester itself refused: {own.stderr.strip().removeprefix('slipway: error: ')}")
        demo.slipway("promote", "approve", promotion, "--reason", "report read", "--token-file",
                     str(demo.tokens["admin"]))  # fmt: skip
        print(f"  {promotion} approved by dr.admin")
        demo.reconcile(prometheus)
    listed = json.loads(demo.slipway("promote", "list").stdout)["promotions"]
    challenger = next(p for p in listed if p["promotion_id"] == promotion)["challenger"]
    with serving({**server_env, "SLIPWAY_SHADOW_MODEL": challenger}, demo.workdir / "shadow-server.log", port) as url:
        _send(url, cases(100, 9, shift=True), "shadow")
        prometheus.wait_for(lambda p: (p.value("max(slipway_shadow_records_total)") or 0) >= 50, "shadow answers")
        agree = prometheus.value("max(slipway_shadow_agreements_total) / max(slipway_shadow_records_total)")
        print(f"{challenger} in shadow beside the champion: 100 records, agreement {agree:.2f}, none returned")
        demo.reconcile(prometheus)


if __name__ == "__main__":
    main()
