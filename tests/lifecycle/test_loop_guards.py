"""The loop's guards against a real Prometheus: it evaluates the kit's alert rules on series a small
exporter serves (audited accuracy falling, optionally a source offline), and the reconciler reads
its alerts. No retraining happens in these cases, so no model server is needed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contracts.examples.loop_world import CONTRACT, cases, write_labelled
from lifecycle.loop import LoopSettings, LoopState, Reconciler
from lifecycle.prometheus import PrometheusUnavailable
from runbooks.rehearsal import LocalPrometheus, local_prometheus
from slipway.contract import load_contract
from slipway.identity import Identity
from slipway.signing import KeyStore

pytestmark = pytest.mark.slow
LOOP = Identity("https://idp.example", "svc.loop", "svc.loop", frozenset({"admin"}), "jti-loop")


@contextlib.contextmanager
def exporter(*, source_up: bool) -> Iterator[str]:
    """Counters that grow on every scrape: half of the audited automatic decisions wrong."""
    scrapes = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scrapes[0] += 1
            n = scrapes[0]
            body = "\n".join([
                f"slipway_audit_labelled_total {2 * n}", f"slipway_audit_weight_total {2 * n}",
                f"slipway_audit_correct_weight_total {n}", "slipway_accuracy_floor 0.8",
                f'slipway_pipeline_source_up{{source="labs"}} {1 if source_up else 0}', "",
            ]).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def champion(tmp_path: Path) -> str:
    from lifecycle.train import train

    keys = KeyStore.default()
    keys.generate()
    return train(keys, load_contract(str(CONTRACT)), data=write_labelled(tmp_path / "old.csv", cases(600, 1))).tag


def _firing(prom: LocalPrometheus, *alerts: str) -> None:
    prom.wait_for(lambda p: set(alerts) <= p.firing(), f"{', '.join(alerts)} firing")


def _reconciler(url: str, champion: str, **settings: Any) -> Reconciler:
    loop = LoopSettings(prometheus_url=url, model=champion, **settings)
    return Reconciler(load_contract(str(CONTRACT)), loop, LOOP)


def test_no_retraining_while_a_data_source_is_offline(champion: str, tmp_path: Path) -> None:
    with exporter(source_up=False) as target, local_prometheus([target], tmp_path / "prom") as prom:
        _firing(prom, "AuditAccuracyLow", "DataSourceOffline")
        outcome = _reconciler(prom.url, champion, min_new_labels=0).reconcile()
    assert outcome["state"] == "suspect" and "DataSourceOffline" in outcome["reason"] and outcome["attempts"] == 0


def test_the_cool_down_the_label_minimum_and_the_attempt_cap(champion: str, tmp_path: Path) -> None:
    with exporter(source_up=True) as target, local_prometheus([target], tmp_path / "prom") as prom:
        _firing(prom, "AuditAccuracyLow")
        waiting = _reconciler(prom.url, champion, min_new_labels=50).reconcile()
        assert waiting["state"] == "suspect" and "waiting for labels (0 of 50" in waiting["reason"]
        loop = _reconciler(prom.url, champion)
        loop.state.data.update(last_attempt=loop.state.data["since"], attempts=1)
        loop.state.save()
        cooling = _reconciler(prom.url, champion).reconcile()
        assert "cool-down" in cooling["reason"] and cooling["attempts"] == 1
        loop = _reconciler(prom.url, champion, cooldown_seconds=0, max_attempts=1)
        exhausted = loop.reconcile()
    assert exhausted["state"] == "rejected" and exhausted["needs_person"] and "a person must act" in exhausted["reason"]
    from slipway.audit import slipway_home

    assert "slipway_loop_needs_person 1.0" in (slipway_home() / "metrics" / "loop.prom").read_text()


def test_without_prometheus_nothing_changes(champion: str, tmp_path: Path) -> None:
    from lifecycle.champion import loop_directory

    loop = _reconciler("http://127.0.0.1:9", champion)
    with pytest.raises(PrometheusUnavailable, match="did not answer"):
        loop.reconcile()
    assert not (loop_directory(load_contract(str(CONTRACT))) / "state.json").exists()
    assert LoopState.load(loop.directory).state == "serving"
