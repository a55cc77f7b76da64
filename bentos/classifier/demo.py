"""The model-server rehearsal `make demo` runs: train, sign, serve, send a realistic mix, report.

    python -m bentos.classifier.demo --workdir build/demo

Everything lives under ``--workdir`` (fresh each run): keys, model store, review queue, logs. The
server is a real `slipway serve` on 127.0.0.1 and a free port, and it is always stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from slipway.contract import load_contract
from slipway.identity.dev_issuer import DevIssuer
from slipway.processes import ProcessNotReady, stop_group, wait_until_answering

FEATURE_NAMES = load_contract("wdbc").input_names

SLIPWAY = str(Path(sys.executable).with_name("slipway"))


def run_slipway(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run([SLIPWAY, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo: `slipway {' '.join(args)}` failed: {result.stderr.strip()}")
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path, port: int | None = None) -> Iterator[str]:
    """A real `slipway serve` on 127.0.0.1 and ``port`` (default: a free one), ready, and always
    stopped; its URL."""
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [SLIPWAY, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_answering(process, f"{url}/readyz", what="demo: the server", log=log)
            yield url
        except ProcessNotReady as exc:
            raise SystemExit(str(exc)) from None
        finally:
            stop_group(process)


def _cases() -> list[tuple[str, Any]]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    rows = [dict(zip(FEATURE_NAMES, r.tolist(), strict=True)) for r in data.data]
    benign_mean = data.data[data.target == 1].mean(axis=0)
    malignant_mean = data.data[data.target == 0].mean(axis=0)
    borderline = dict(zip(FEATURE_NAMES, (0.5 * benign_mean + 0.5 * malignant_mean).tolist(), strict=True))
    unusual = {**rows[60], "mean_area": 9000.0, "worst_area": 11000.0}
    return [
        ("typical benign case", {"record": rows[int(np.flatnonzero(data.target == 1)[5])]}),
        ("typical malignant case", {"record": rows[0]}),
        ("borderline case", {"record": borderline}),
        ("unusual measurements", {"record": unusual}),
        ("malformed: text for a number", {"record": {**rows[1], "mean_radius": "large"}}),
        ("malformed: fields missing", {"record": {"mean_radius": 12.0}}),
        ("malformed: not JSON", b"{this is not json"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("build/demo"))
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    env = {
        **os.environ,
        "SLIPWAY_HOME": str(workdir / "home"),
        "BENTOML_HOME": str(workdir / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    run_slipway(["keys", "generate"], env)
    trained = run_slipway(["train"], env)
    (workdir / "model.tag").write_text(trained["tag"] + "\n")  # the review-pages step serves it again
    metrics = trained["metrics"]
    print(f"trained and signed {trained['tag']}: held-out accuracy {metrics['accuracy']:.3f}, "
          f"ROC AUC {metrics['roc_auc']:.3f}, Brier {metrics['brier']:.3f}")  # fmt: skip
    print(f"  digest {trained['digest']}")
    # publish drift gauges on every request (the default waits a second between recomputations);
    # auth on for every endpoint, trusting the kit's local issuer (a real stack trusts the organisation's)
    server_env = {**env, "SLIPWAY_MODEL": trained["tag"], "SLIPWAY_DRIFT_PUBLISH_SECONDS": "0",
                  "SLIPWAY_AUTH_PREDICT": "true"}  # fmt: skip
    issuer = DevIssuer(workdir / "home" / "auth")
    with issuer.serving() as issuer_url, serving(server_env, workdir / "server.log") as url:
        caller = {"Authorization": "Bearer " + issuer.mint("svc.triage", ["caller"])}
        reviewer = {"Authorization": "Bearer " + issuer.mint("dr.demo", ["reviewer"], name="Dr Demo")}
        print(f"serving on {url} (ready: signature verified); trusting the local issuer {issuer_url}")
        refused = httpx.post(f"{url}/review/pending", json={}, headers={"X-Forwarded-User": "dr.demo"})
        print(f"  no token, an X-Forwarded-User header instead: {refused.status_code} {refused.json()['error']}\n")
        print(f"{'case':<32} {'status':>6}  outcome")
        for name, payload in _cases():
            if isinstance(payload, bytes):
                response = httpx.post(f"{url}/predict", content=payload,
                                      headers={"content-type": "application/json", **caller})  # fmt: skip
            else:
                response = httpx.post(f"{url}/predict", json=payload, headers=caller)
            body = response.json()
            if response.status_code == 200:
                r = body["results"][0]
                reasons = ", ".join(r["reasons"]) or "-"
                outcome = f"{r['prediction']} p={r['confidence']:.3f} -> {r['decision']} ({reasons})"
            else:
                errors = body.get("errors") or body.get("detail") or body.get("error")
                outcome = f"rejected: {json.dumps(errors)[:80]}"
            print(f"{name:<32} {response.status_code:>6}  {outcome}")

        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        sample = np.random.default_rng(42).permutation(len(data.data))[:150]
        stream = [dict(zip(FEATURE_NAMES, data.data[i].tolist(), strict=True)) for i in sample]
        shifted = [{**r, "mean_texture": r["mean_texture"] * 1.8} for r in stream]
        for batch in (stream[:75], stream[75:], shifted):
            httpx.post(f"{url}/predict", json={"records": batch}, headers=caller, timeout=30)
        pending = httpx.post(f"{url}/review/pending", json={"limit": 3}, headers=reviewer).json()
        print(f"\nreview queue: {pending['pending']} pending, oldest {pending['oldest_age_seconds']:.1f} s")
        first = pending["items"][0]
        claimed = httpx.post(f"{url}/review/claim", json={"review_id": first["review_id"]}, headers=reviewer).json()
        resolved = httpx.post(
            f"{url}/review/resolve",
            json={"review_id": first["review_id"], "label": first["prediction"], "note": "confirmed on second read",
                  "version": claimed["version"]},
            headers=reviewer,
        ).json()  # fmt: skip
        if resolved["status"] != "resolved":  # a high-stakes case: a second person confirms it
            second = {"Authorization": "Bearer " + issuer.mint("dr.second", ["second-reviewer"])}
            version = httpx.post(f"{url}/review/claim", json={"review_id": first["review_id"]}, headers=second).json()
            print(f"  {first['review_id']}: {first['prediction']} by dr.demo, then four eyes: claimed by dr.second")
            confirm = {"review_id": first["review_id"], "label": first["prediction"], "version": version["version"]}
            resolved = httpx.post(f"{url}/review/resolve", headers=second, json=confirm).json()
        print(f"  resolved {resolved['review_id']} as {resolved['label']} by {resolved['reviewer']} "
              f"(the token's subject; request {resolved['request_id']})")  # fmt: skip
        text = httpx.get(f"{url}/metrics").text
    lines = [line for line in text.splitlines() if line.startswith("slipway_")]
    print("\nmetrics:")
    for prefix in (
        "slipway_predictions_total",
        "slipway_routing_reasons_total",
        "slipway_review_queue_depth",
        "slipway_input_validation_errors_total",
        "slipway_prediction_psi",
        "slipway_drift_window_samples",
    ):
        for line in lines:
            if line.startswith(prefix) and not line.endswith(" 0.0"):
                print(f"  {line}")  # fmt: skip
    psi = sorted(
        (
            (float(line.rsplit(" ", 1)[1]), line.split('"')[1])
            for line in lines
            if line.startswith("slipway_feature_psi")
        ),
        reverse=True,
    )
    print("  feature PSI, highest: " + ", ".join(f"{name} {value:.2f}" for value, name in psi[:3]))
    audit = run_slipway(["audit", "verify", "reviews"], env)
    print(f"\naudit trail {audit['trail']}: {audit['records']} records, hash chain intact")
    for actor in audit["actors"]:
        print(f"  {actor['event']:<16} by {actor['subject']} (verified, issuer {actor['issuer']}): {actor['records']}")


if __name__ == "__main__":
    main()
