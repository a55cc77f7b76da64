"""Batch jobs' metrics reach a real Pushgateway (Debian's prometheus-pushgateway) on loopback; a
gateway that is down costs a warning, never the job."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lifecycle.training_metrics import write_training_metrics
from slipway.metrics_publish import PUSHGATEWAY_ENV
from slipway.signing import KeyStore
from tests.bentos.server import free_port
from tests.conftest import PROJECT_DIR, SLIPWAY


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    executable = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    assert executable, "the Pushgateway is missing: `make test` installs Debian's prometheus-pushgateway"
    url = f"http://127.0.0.1:{free_port()}"
    log = (tmp_path / "pushgateway.log").open("wb")
    process = subprocess.Popen(
        [executable, f"--web.listen-address={url.removeprefix('http://')}", "--persistence.file="],  # not Debian's
        stdout=log,
        stderr=subprocess.STDOUT,  # machine-wide default file: nothing from other runs, nothing left
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # poll for the condition (the gateway answering), not a fixed wait
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "pushgateway.log").read_text()
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _pipeline(tmp_path: Path, gateway: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    KeyStore(home / "keys").generate()
    return subprocess.run(
        [SLIPWAY, "pipeline", "run", "--config", str(PROJECT_DIR / "pipelines/samples/pipeline.yaml"),
         "--out", str(tmp_path / "out")],
        env={**os.environ, "SLIPWAY_HOME": str(home), PUSHGATEWAY_ENV: gateway},
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_pipeline_and_training_metrics_are_pushed(
    tmp_path: Path, pushgateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _pipeline(tmp_path, pushgateway)
    assert run.returncode == 3, run.stderr  # the samples' offline source
    assert "warning" not in run.stderr
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    write_training_metrics(tmp_path / "training.prom", outcome="rejected", accuracy=0.5)
    exposed = httpx.get(f"{pushgateway}/metrics", timeout=5).text
    assert 'slipway_pipeline_source_up{instance="",job="slipway-pipeline",source="partner-share"} 0' in exposed
    assert 'slipway_training_last_outcome{instance="",job="slipway-training",outcome="rejected"} 1' in exposed
    assert (tmp_path / "out/metrics/pipeline.prom").exists() and (tmp_path / "training.prom").exists()


def test_a_gateway_that_is_down_costs_a_warning_not_the_run(tmp_path: Path) -> None:
    run = _pipeline(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert run.returncode == 3  # the same outcome as without a gateway
    assert "slipway: warning: metrics not pushed to" in run.stderr and "Traceback" not in run.stderr
    assert "slipway_pipeline_rows" in (tmp_path / "out/metrics/pipeline.prom").read_text()
