"""A real Prometheus (Debian's package) on 127.0.0.1 evaluating the kit's generated alert rules
against given scrape targets, and a real Alertmanager delivering to a webhook, always stopped: what
`make demo`'s loop step, the drills and the tests use.

The rules are the committed ``runbooks/alerts/slipway.rules.yaml`` with every ``for`` and
``keep_firing_for`` set to zero and a one-second evaluation interval: the expressions and
thresholds are the real ones, only the waiting is taken out so a rehearsal does not sit through
30 minutes.

Usage::

    with local_prometheus(["127.0.0.1:3000"], Path("build/prometheus")) as prometheus:
        prometheus.wait_for(lambda p: "AuditAccuracyLow" in p.firing(), "AuditAccuracyLow firing")
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from slipway.processes import free_port, stop_group, wait_until_answering

RULES = Path(__file__).resolve().parent / "alerts" / "slipway.rules.yaml"


class LocalPrometheus:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log

    def _get(self, path: str, **params: str) -> Any:
        return httpx.get(f"{self.url}{path}", params=params, timeout=5).json()["data"]

    def firing(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self._get("/api/v1/alerts")["alerts"] if a["state"] == "firing"}

    def value(self, query: str) -> float | None:
        result = self._get("/api/v1/query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, condition: Callable[[LocalPrometheus], bool], what: str, timeout: float = 90.0) -> None:
        """Poll the condition (scrapes and rule evaluations happen every second), or fail saying what."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                if condition(self):
                    return
            time.sleep(0.5)
        raise TimeoutError(f"Prometheus: {what} not within {timeout} s; firing: {sorted(self.firing())}")


def _rules_without_waiting() -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["for"] = "0s"
            rule.pop("keep_firing_for", None)
    return rules


@contextlib.contextmanager
def local_prometheus(
    targets: list[str],
    workdir: Path,
    *,
    rules: dict[str, Any] | None = None,
    alertmanager: str | None = None,
    jobs: dict[str, list[str]] | None = None,
) -> Iterator[LocalPrometheus]:
    """``targets``: scraped as job ``classifier``; ``jobs``: more jobs by name (``pushgateway`` keeps
    the pushed labels); ``rules``: another rule document (default: the generated rules without their
    waiting); ``alertmanager``: host:port to send alerts to."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "rules.yaml").write_text(yaml.safe_dump(rules or _rules_without_waiting()))
    scrape: list[dict[str, Any]] = (
        [{"job_name": "classifier", "static_configs": [{"targets": targets}]}] if targets else []
    )
    for name, addresses in (jobs or {}).items():
        scrape.append({"job_name": name, "honor_labels": name == "pushgateway",
                       "static_configs": [{"targets": addresses}]})  # fmt: skip
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(workdir / "rules.yaml")],
        "scrape_configs": scrape,
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port, log = free_port(), workdir / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["prometheus", f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d",
             "--rules.alert.resend-delay=1s"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        running = LocalPrometheus(f"http://127.0.0.1:{port}", log)
        try:
            wait_until_answering(process, f"{running.url}/-/ready", what="prometheus", log=log, timeout=60)
            yield running
        finally:
            stop_group(process, grace=20)


@contextlib.contextmanager
def local_alertmanager(webhook: str, workdir: Path) -> Iterator[str]:
    """A real Alertmanager on 127.0.0.1 (its cluster port off) delivering every alert, and its
    resolution, to ``webhook`` at once; answers its host:port."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "route": {"receiver": "webhook", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": webhook, "send_resolved": True}]}],
    }  # fmt: skip
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port, log = free_port(), workdir / "alertmanager.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["prometheus-alertmanager", f"--config.file={workdir / 'alertmanager.yml'}",
             f"--storage.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address="],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_until_answering(process, f"http://127.0.0.1:{port}/-/ready", what="alertmanager", log=log, timeout=60)
            yield f"127.0.0.1:{port}"
        finally:
            stop_group(process, grace=20)
