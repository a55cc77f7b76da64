"""How a drill runs: what it needs started on 127.0.0.1, the failure injected, the alert awaited at
the webhook (through a real Prometheus and a real Alertmanager, with the drill copy of the rules),
the runbook's mitigation applied, and the resolution awaited. Everything started is stopped.

Usage::

    result = run_drill(DRILLS["kill-model-server"], Path("build/drills"))
    result.passed, result.fired_after, result.resolved_after
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbooks.catalog import CATALOG, load_catalog
from runbooks.drills.receiver import WebhookReceiver
from runbooks.drills.rules import drill_rules
from runbooks.rehearsal import local_alertmanager, local_prometheus
from slipway.processes import stop_group, wait_until_answering

SLIPWAY = str(Path(sys.executable).with_name("slipway"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DrillContext:
    """A drill's own world: a fresh ``$SLIPWAY_HOME`` and model store, fixed loopback ports, and the
    processes it started (stopped at the end, whatever happened)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server_port, self.pushgateway_port, self.feed_port = free_port(), free_port(), free_port()
        self.env = {**os.environ, "SLIPWAY_HOME": str(workdir / "home"), "BENTOML_HOME": str(workdir / "bentoml"),
                    "BENTOML_DO_NOT_TRACK": "true", "SLIPWAY_AUDIT_SAMPLE_RATE": "0",
                    "SLIPWAY_PUSHGATEWAY": f"http://127.0.0.1:{self.pushgateway_port}"}  # fmt: skip
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stopped = threading.Event()
        self._sender: threading.Thread | None = None
        self._traffic: list[dict[str, Any]] = []

    def slipway(self, *args: str, allowed: tuple[int, ...] = (0,), **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([SLIPWAY, *args], env={**self.env, **env}, capture_output=True, text=True,
                                check=False, cwd=self.workdir)  # fmt: skip
        if result.returncode not in allowed:
            raise RuntimeError(f"`slipway {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()}")
        return result

    def start(self, name: str, argv: list[str], ready: str, **env: str) -> None:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(argv, env={**self.env, **env}, stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # fmt: skip
        self._processes[name] = process
        wait_until_answering(process, ready, what=name, log=log)

    def stop(self, name: str) -> None:
        process = self._processes.pop(name, None)
        if process is not None:
            stop_group(process)

    def start_model_server(self, **env: str) -> None:
        url = f"http://127.0.0.1:{self.server_port}"
        self.start("model-server", [SLIPWAY, "serve", "--host", "127.0.0.1", "--port", str(self.server_port)],
                   f"{url}/livez", **env)  # fmt: skip

    def start_pushgateway(self) -> None:
        self.start("pushgateway", ["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{self.pushgateway_port}"],
                   f"http://127.0.0.1:{self.pushgateway_port}/-/ready")  # fmt: skip

    def start_dev_issuer(self) -> None:
        port = free_port()
        self.start("dev-issuer", [SLIPWAY, "auth", "dev-issuer", "--port", str(port)],
                   f"http://127.0.0.1:{port}/.well-known/openid-configuration")  # fmt: skip

    def token(self, subject: str, role: str) -> str:
        result = self.slipway("auth", "token", "--subject", subject, "--role", role)
        return result.stdout.strip().splitlines()[-1]

    def serve_feed(self) -> None:
        """A partner's HTTP feed: the pipeline's sample CSV served from a directory on 127.0.0.1."""
        feed = self.workdir / "feed"
        feed.mkdir(exist_ok=True)
        sample = Path(__file__).resolve().parents[2] / "pipelines" / "samples" / "incoming" / "2026-11-01-clinic-a.csv"
        shutil.copyfile(sample, feed / "records.csv")
        self.start("feed", [sys.executable, "-m", "http.server", str(self.feed_port), "--bind", "127.0.0.1",
                            "--directory", str(feed)], f"http://127.0.0.1:{self.feed_port}/records.csv")  # fmt: skip

    def train(self, *args: str, allowed: tuple[int, ...] = (0,)) -> str:
        """`slipway train` (keys made on first use); the stored model's tag, or "" when refused."""
        if not (self.workdir / "home" / "keys").exists():
            self.slipway("keys", "generate")
        result = self.slipway("train", *args, allowed=allowed)
        return str(json.loads(result.stdout)["tag"]) if result.returncode == 0 else ""

    # -- traffic ---------------------------------------------------------------------------------------
    def records(self, count: int, seed: int = 0) -> list[dict[str, Any]]:
        """Records of the served contract's own labelled data, in a seeded order (labels left out)."""
        import numpy as np

        from lifecycle.data import load_labelled
        from slipway.contract import load_contract

        frame = load_labelled(load_contract(self.env.get("SLIPWAY_CONTRACT")), None).frame
        order = np.random.default_rng(seed).permutation(frame.height)[:count]
        return list(frame[order].to_dicts())

    def predict(self, records: list[dict[str, Any]]) -> None:
        import httpx

        for start in range(0, len(records), 100):
            httpx.post(f"http://127.0.0.1:{self.server_port}/predict", json={"records": records[start : start + 100]},
                       timeout=30).raise_for_status()  # fmt: skip

    def keep_sending(self, records: list[dict[str, Any]]) -> None:
        """Send ``records`` again and again (a batch every 0.2 s) until replaced or the drill ends:
        traffic for alerts that read a rate."""
        self._traffic = records
        if self._sender is None:

            def send() -> None:
                while not self._stopped.wait(0.2):
                    with contextlib.suppress(Exception):  # a stopped server is what some drills are about
                        self.predict(self._traffic)

            self._sender = threading.Thread(target=send, daemon=True)
            self._sender.start()

    def close(self) -> None:
        self._stopped.set()
        if self._sender is not None:
            self._sender.join(timeout=30)
        for name in list(self._processes):
            self.stop(name)


Step = Callable[[DrillContext], None]


@dataclass(frozen=True)
class Drill:
    name: str
    alert: str
    injects: str  # what is done to the system, in words (the record says it)
    mitigates: str  # the runbook's mitigation, as the drill applies it
    prepare: Step  # start what the failure happens to, healthy
    inject: Step
    mitigate: Step | None  # None: the alert is meant never to resolve (Watchdog)
    scrape_server: bool = False
    scrape_pushgateway: bool = False
    timeout: float = 90.0


@dataclass
class DrillResult:
    drill: str
    alert: str
    injected: str
    mitigated: str
    passed: bool = False
    seconds: float = 0.0
    fired_after: float | None = None
    resolved_after: float | None = None
    notification: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _expected(alert: str) -> tuple[dict[str, str], str | None]:
    """The labels and runbook URL the notification must carry (the catalog's)."""
    catalog = load_catalog(CATALOG)
    for mode in catalog.failure_modes:
        if mode.alert == alert:
            return {"severity": mode.severity, "component": mode.component, "owner": mode.owner}, catalog.url(mode)
    return {}, None


def _check(notification: dict[str, Any], alert: str) -> None:
    labels, runbook = _expected(alert)
    missing = {k: v for k, v in labels.items() if notification["labels"].get(k) != v}
    if missing:
        raise AssertionError(f"{alert} arrived without the catalog's labels {missing}: {notification['labels']}")
    if runbook and notification["annotations"].get("runbook_url") != runbook:
        raise AssertionError(f"{alert} arrived with runbook_url {notification['annotations'].get('runbook_url')}")


@contextlib.contextmanager
def _alerting(ctx: DrillContext, drill: Drill) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver, local_alertmanager(receiver.url, ctx.workdir / "alertmanager") as manager:
        jobs = {"pushgateway": [f"127.0.0.1:{ctx.pushgateway_port}"]} if drill.scrape_pushgateway else {}
        targets = [f"127.0.0.1:{ctx.server_port}"] if drill.scrape_server else []
        with local_prometheus(targets, ctx.workdir / "prometheus", rules=drill_rules(), alertmanager=manager,
                              jobs=jobs):  # fmt: skip
            yield receiver


def run_drill(drill: Drill, workdir: Path) -> DrillResult:
    result = DrillResult(drill.name, drill.alert, drill.injects, drill.mitigates)
    workdir = workdir.resolve()  # its processes run with their own working directories
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    ctx = DrillContext(workdir)
    started = time.monotonic()
    try:
        drill.prepare(ctx)
        with _alerting(ctx, drill) as receiver:
            injected = time.time()
            drill.inject(ctx)
            fired = receiver.wait_for(drill.alert, "firing", timeout=drill.timeout, after=injected)
            result.fired_after = round(fired["received"] - injected, 2)
            _check(fired, drill.alert)
            result.notification = {"labels": fired["labels"], "annotations": fired["annotations"]}
            if drill.mitigate is not None:
                mitigated = time.time()
                drill.mitigate(ctx)
                resolved = receiver.wait_for(drill.alert, "resolved", timeout=drill.timeout, after=mitigated)
                result.resolved_after = round(resolved["received"] - mitigated, 2)
        result.passed = True
    except Exception as exc:  # noqa: BLE001 - a failed drill is a result to report, with its reason
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        ctx.close()
        result.seconds = round(time.monotonic() - started, 2)
    return result
