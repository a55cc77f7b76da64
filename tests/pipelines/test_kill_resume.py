"""SIGKILL at every durability step of a run, then run again: the output equals an uninterrupted run's."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import polars as pl
import pytest
from cryptography.fernet import Fernet

from slipway.signing import KeyStore
from tests.conftest import PROJECT_DIR, SLIPWAY

SAMPLES = PROJECT_DIR / "pipelines" / "samples"
pytestmark = pytest.mark.slow


def _run(config: Path, out: Path, home: Path, crash_at: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_PIPELINE_CRASH_AT": str(crash_at)}
    return subprocess.run(
        [SLIPWAY, "pipeline", "run", "--config", str(config), "--out", str(out)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _snapshot(out: Path, key: bytes) -> tuple[pl.DataFrame, dict[str, list[tuple[object, ...]]], dict[str, object]]:
    """Data, quarantine (raw values decrypted: ciphertexts differ by design) and checkpoints."""
    fernet = Fernet(key)
    data = pl.read_parquet(out / "data" / "records.parquet")
    quarantine = {}
    for path in sorted((out / "quarantine").rglob("*.parquet")):
        raw = pl.read_parquet(io.BytesIO(fernet.decrypt(path.with_suffix(".raw").read_bytes())))
        quarantine[str(path.relative_to(out))] = [*pl.read_parquet(path).rows(), *raw.rows()]
    state = {str(p.relative_to(out)): json.loads(p.read_text())["seen"] for p in (out / "state").glob("*.json")}
    return data, quarantine, state


def test_killed_runs_resume_to_the_uninterrupted_output(tmp_path: Path) -> None:
    home = tmp_path / "home"
    keys = KeyStore(home / "keys")
    keys.generate()
    key = keys.data_key_path.read_bytes()
    config = tmp_path / "samples" / "pipeline.yaml"
    shutil.copytree(SAMPLES, tmp_path / "samples")
    reference_out = tmp_path / "reference"
    assert _run(config, reference_out, home).returncode == 3  # the offline sample source
    expected = _snapshot(reference_out, key)

    killed = 0
    for crash_at in range(1, 40):
        out = tmp_path / f"run-{crash_at}"
        first = _run(config, out, home, crash_at)
        if first.returncode != -signal.SIGKILL:
            assert first.returncode == 3, first.stderr
            break  # past the last durability step: the run completed
        killed += 1
        second = _run(config, out, home)
        assert second.returncode == 3, second.stderr
        data, quarantine, state = _snapshot(out, key)
        assert data.equals(expected[0]), f"data differs after a kill at step {crash_at}"
        assert quarantine == expected[1], f"quarantine differs after a kill at step {crash_at}"
        assert state == expected[2], f"checkpoints differ after a kill at step {crash_at}"
        assert not list(out.rglob(".slipway-tmp-*")), f"temporary files left behind after a kill at step {crash_at}"
        assert not (out / ".scratch").exists(), f"scratch space left behind after a kill at step {crash_at}"
    assert killed >= 20, f"only {killed} kill points exercised"
