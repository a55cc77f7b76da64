"""`slipway pipeline run` as an operator sees it: progress only on a terminal, summary, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from slipway.signing import KeyStore
from tests.conftest import PROJECT_DIR, SLIPWAY

CONFIG = PROJECT_DIR / "pipelines" / "samples" / "pipeline.yaml"


def _run(tmp_path: Path, stderr: int) -> subprocess.CompletedProcess[bytes]:
    home = tmp_path / "home"
    KeyStore(home / "keys").generate()
    return subprocess.run(
        [SLIPWAY, "pipeline", "run", "--config", str(CONFIG), "--out", str(tmp_path / "out")],
        env={**os.environ, "SLIPWAY_HOME": str(home), "TERM": "xterm"},
        stdout=subprocess.PIPE, stderr=stderr, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_is_shown_on_a_terminal(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    try:
        result = _run(tmp_path, terminal)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert result.returncode == 3, result.stdout  # the sample's offline source
    assert b"reading clinics: " in shown
    assert json.loads(result.stdout)["exit_code"] == 3  # piped stdout stays machine-readable


def test_no_progress_when_not_on_a_terminal(tmp_path: Path) -> None:
    result = _run(tmp_path, subprocess.PIPE)
    assert result.returncode == 3
    assert b"reading" not in result.stderr
    assert json.loads(result.stdout)["sources"]["partner-share"]["status"] == "stale"
