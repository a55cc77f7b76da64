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
import re
import shutil
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
from runbooks.drills.rules import FACTOR, drill_rules
from runbooks.rehearsal import LocalPrometheus, local_alertmanager, local_prometheus
from slipway.processes import ProcessNotReady, free_port, stop_group, wait_until_answering

SLIPWAY = str(Path(sys.executable).with_name("slipway"))


class DrillContext:
    """A drill's own world: a fresh ``$SLIPWAY_HOME`` and model store, fixed loopback ports, and the
    processes it started (stopped at the end, whatever happened)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server_port, self.pushgateway_port, self.feed_port = free_port(), free_port(), free_port()
        self.replica_port = free_port()  # a second model server: another replica, or the next one in a rollout
        self.scrape_targets = [f"127.0.0.1:{self.server_port}", f"127.0.0.1:{self.replica_port}"]
        self.held: dict[str, Any] = {}  # what one drill's steps hand on to its later steps
        self.env = {**os.environ, "SLIPWAY_HOME": str(workdir / "home"), "BENTOML_HOME": str(workdir / "bentoml"),
                    "BENTOML_DO_NOT_TRACK": "true", "SLIPWAY_AUDIT_SAMPLE_RATE": "0",
                    "SLIPWAY_PUSHGATEWAY": f"http://127.0.0.1:{self.pushgateway_port}"}  # fmt: skip
        self.prometheus: LocalPrometheus | None = None  # the drill's Prometheus, once started
        self.notification: dict[str, Any] = {}  # what a signal drill saw (no alert to receive)
        self.stopped = threading.Event()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._cleanups: list[Callable[[], None]] = []
        self._sender: threading.Thread | None = None
        self._traffic: list[dict[str, Any]] = []

    def local_prometheus(self) -> LocalPrometheus:
        if self.prometheus is None:
            raise RuntimeError("the drill's Prometheus is not running yet")
        return self.prometheus

    @property
    def prometheus_url(self) -> str:
        return self.local_prometheus().url

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Run at the end of the drill, whatever happened (last registered, first run)."""
        self._cleanups.append(cleanup)

    def slipway(
        self, *args: str, allowed: tuple[int, ...] = (0,), hours_ago: float = 0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run the real CLI; ``hours_ago``: under libfaketime, as if it ran that long ago (a run the
        system made earlier, whose timestamps Prometheus then sees age)."""
        clock = ["faketime", "-f", f"-{hours_ago * 3600:.0f}"] if hours_ago else []
        result = subprocess.run([*clock, SLIPWAY, *args], env={**self.env, **env}, capture_output=True, text=True,
                                check=False, cwd=self.workdir)  # fmt: skip
        if result.returncode not in allowed:
            raise RuntimeError(f"`slipway {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()}")
        return result

    def start(self, name: str, argv: list[str], ready: str, **env: str) -> None:
        """Start and wait until ``ready`` answers. A server that lost a port race at start (BentoML
        picks its internal ports itself) is started once more, as a Deployment would restart it."""
        log = self.workdir / f"{name}.log"
        for attempt in range(2):
            start = log.stat().st_size if log.exists() else 0
            with log.open("ab") as output:
                process = subprocess.Popen(argv, env={**self.env, **env}, stdout=output, stderr=subprocess.STDOUT,
                                           start_new_session=True)  # fmt: skip
            self._processes[name] = process
            try:
                wait_until_answering(process, ready, what=name, log=log)
                return
            except ProcessNotReady:
                stop_group(process)
                with log.open("rb") as output:
                    output.seek(start)
                    lost_race = b"Address already in use" in output.read()
                if attempt or not lost_race:
                    raise

    def stop(self, name: str) -> None:
        process = self._processes.pop(name, None)
        if process is not None:
            stop_group(process)

    def process(self, name: str) -> subprocess.Popen[bytes]:
        return self._processes[name]

    def start_model_server(self, **env: str) -> None:
        self.start_server_as("model-server", self.server_port, env)

    def roll_out(self, **env: str) -> None:
        """A rolling update: the next server starts on the other port and answers, traffic moves to it,
        then the old one stops (Prometheus scrapes both ports, as it would both pods)."""
        self.start_server_as("model-server-next", self.replica_port, env)
        self.server_port, self.replica_port = self.replica_port, self.server_port
        self.stop("model-server")
        self._processes["model-server"] = self._processes.pop("model-server-next")

    def start_server_as(self, name: str, port: int, env: dict[str, str]) -> None:
        """Another `slipway serve` under its own name and port (a second replica)."""
        self.start(name, [SLIPWAY, "serve", "--host", "127.0.0.1", "--port", str(port)],
                   f"http://127.0.0.1:{port}/livez", **env)  # fmt: skip

    def start_pushgateway(self) -> None:
        # --persistence.file= : Debian's build defaults to one machine-wide file, which every Pushgateway
        # started here would load (and write): another run's metrics would reach this drill's Prometheus.
        self.start("pushgateway", ["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{self.pushgateway_port}",
                                   "--persistence.file="],
                   f"http://127.0.0.1:{self.pushgateway_port}/-/ready")  # fmt: skip

    def start_dev_issuer(self) -> None:
        port = free_port()
        self.start("dev-issuer", [SLIPWAY, "auth", "dev-issuer", "--port", str(port)],
                   f"http://127.0.0.1:{port}/.well-known/openid-configuration")  # fmt: skip

    def token(self, subject: str, role: str) -> str:
        result = self.slipway("auth", "token", "--subject", subject, "--role", role)
        return result.stdout.strip().splitlines()[-1]

    def serve_feed(self) -> None:
        """A partner's HTTP feed: the drill's ``feed/`` folder served on 127.0.0.1."""
        feed = self.workdir / "feed"
        feed.mkdir(exist_ok=True)
        self.start("feed", [sys.executable, "-m", "http.server", str(self.feed_port), "--bind", "127.0.0.1",
                            "--directory", str(feed)], f"http://127.0.0.1:{self.feed_port}/")  # fmt: skip

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

    def predict(self, records: list[dict[str, Any]], port: int | None = None, request_id: str | None = None) -> None:
        import httpx

        for start in range(0, len(records), 100):
            body: dict[str, Any] = {"records": records[start : start + 100]}
            if request_id:
                body["request_id"] = f"{request_id}-{start}"
            httpx.post(f"http://127.0.0.1:{port or self.server_port}/predict", json=body,
                       timeout=30).raise_for_status()  # fmt: skip

    def keep_sending(self, records: list[dict[str, Any]], ports: list[int] | None = None) -> None:
        """Send ``records`` again and again (a batch every 0.2 s, to each of ``ports`` in turn, as a
        Service would) until replaced or the drill ends: traffic for alerts that read a rate."""
        self._traffic = records
        self._ports = ports or [self.server_port]
        if self._sender is None:

            def send() -> None:
                turn = 0
                while not self.stopped.wait(0.2):
                    turn += 1
                    with contextlib.suppress(Exception):  # failing servers are what some drills are about
                        self.predict(self._traffic, port=self._ports[turn % len(self._ports)])

            self._sender = threading.Thread(target=send, daemon=True)
            self._sender.start()

    def close(self) -> None:
        self.stopped.set()
        if self._sender is not None:
            self._sender.join(timeout=30)
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 - one failed cleanup must not leave the processes running
                print(f"slipway: warning: drill cleanup failed: {exc}", file=sys.stderr)
        for name in list(self._processes):
            self.stop(name)


Step = Callable[[DrillContext], None]


@dataclass(frozen=True)
class Drill:
    """``step``: which of the runbook's mitigation steps the drill applies (its index in the catalog's
    ``mitigation`` list; the record quotes it); ``applies``: how the drill carries that step out here.
    ``signal``: the failure mode has no alert (a CI signal): inject and mitigate check the signal themselves."""

    name: str
    alert: str
    injects: str  # what is done to the system, in words (the record says it)
    step: int | None  # None: the alert is meant never to resolve (Watchdog)
    applies: str
    prepare: Step  # start what the failure happens to, healthy
    inject: Step
    mitigate: Step | None
    scrape_server: bool = False
    scrape_pushgateway: bool = False
    signal: bool = False
    factor: float = FACTOR  # how much faster than real time its rules run (windows and waits together)
    timeout: float = 120.0

    @property
    def mitigation(self) -> str:
        """The runbook's own words for the step applied."""
        if self.step is None:
            return "none: it must keep arriving"
        mode = next(m for m in load_catalog(CATALOG).failure_modes if m.alert == self.alert)
        return str(mode.mitigation[self.step])


@dataclass
class DrillResult:
    drill: str
    alert: str
    injected: str
    mitigation: str
    applied: str
    passed: bool = False
    seconds: float = 0.0
    fired_after: float | None = None
    resolved_after: float | None = None
    notification: dict[str, Any] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(
        default_factory=list
    )  # every one of the alert, seconds after the injection
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
def _alerting(ctx: DrillContext, drill: Drill) -> Iterator[WebhookReceiver | None]:
    if drill.signal:
        yield None
        return
    with WebhookReceiver() as receiver, local_alertmanager(receiver.url, ctx.workdir / "alertmanager") as manager:
        jobs = {"pushgateway": [f"127.0.0.1:{ctx.pushgateway_port}"]} if drill.scrape_pushgateway else {}
        targets = ctx.scrape_targets if drill.scrape_server else []
        with local_prometheus(targets, ctx.workdir / "prometheus", rules=drill_rules(drill.factor),
                              alertmanager=manager, jobs=jobs) as prometheus:  # fmt: skip
            ctx.prometheus = prometheus
            yield receiver


def _await(drill: Drill, ctx: DrillContext, receiver: WebhookReceiver | None, status: str, since: float) -> float:
    """Seconds from ``since`` to the notification (or, for a signal drill, to the step's end)."""
    if receiver is None:
        return time.time() - since
    notification = receiver.wait_for(drill.alert, status, timeout=drill.timeout, after=since)
    if status == "firing":
        _check(notification, drill.alert)
        ctx.notification = {"labels": notification["labels"], "annotations": notification["annotations"]}
    return float(notification["received"]) - since


def _still_firing(ctx: DrillContext, drill: Drill, receiver: WebhookReceiver | None) -> None:
    """Before the mitigation: the alert must not have resolved by itself, and Prometheus must still
    have it firing, or its resolution would prove nothing about the mitigation."""
    if receiver is None:
        return
    if any(status == "resolved" for _, status in receiver.history(drill.alert)):
        raise AssertionError(f"{drill.alert} resolved before the mitigation was applied (the injection is too weak)")
    if drill.alert not in ctx.local_prometheus().firing():
        raise AssertionError(f"{drill.alert} no longer fires in Prometheus before the mitigation was applied")


def _settle_seconds(drill: Drill) -> float:
    """How long a resolution must hold: the rule's longest range window plus its ``for`` (drill time),
    plus a few scrapes and evaluations. Long enough for the alert to fire again if the cause remained."""
    rule = next(r for g in drill_rules(drill.factor)["groups"] for r in g["rules"] if r["alert"] == drill.alert)
    windows = [int(w) for w in re.findall(r"\[(\d+)s\]", rule["expr"])]
    return max(windows, default=0) + int(rule["for"].rstrip("s")) + 3.0


def _stays_resolved(ctx: DrillContext, drill: Drill, receiver: WebhookReceiver) -> float:
    """After the mitigation: the alert stays quiet for the settling time (a resolution during a
    restart, with the cause still there, fires again); when the lasting resolution arrived."""
    if ctx.stopped.wait(_settle_seconds(drill)):
        raise RuntimeError("the drill was stopped")
    history = receiver.history(drill.alert)
    if history and history[-1][1] != "resolved":
        raise AssertionError(f"{drill.alert} fired again after the mitigation: {history}")
    if ctx.local_prometheus().value(f'ALERTS{{alertname="{drill.alert}"}}') is not None:
        raise AssertionError(f"{drill.alert} is pending or firing again after the mitigation")
    return history[-1][0]


def run_drill(drill: Drill, workdir: Path) -> DrillResult:
    result = DrillResult(drill.name, drill.alert, drill.injects, drill.mitigation, drill.applies)
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
            result.fired_after = round(_await(drill, ctx, receiver, "firing", injected), 2)
            result.notification = ctx.notification
            if drill.mitigate is not None:
                _still_firing(ctx, drill, receiver)
                mitigated = time.time()
                drill.mitigate(ctx)
                result.resolved_after = round(_await(drill, ctx, receiver, "resolved", mitigated), 2)
                if receiver is not None:
                    result.resolved_after = round(_stays_resolved(ctx, drill, receiver) - mitigated, 2)
            if receiver is not None:
                result.notifications = [{"after": round(at - injected, 2), "status": status}
                                        for at, status in receiver.history(drill.alert)]  # fmt: skip
        result.passed = True
    except Exception as exc:  # noqa: BLE001 - a failed drill is a result to report, with its reason
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        ctx.close()
        result.seconds = round(time.monotonic() - started, 2)
    return result
