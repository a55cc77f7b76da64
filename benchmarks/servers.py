"""A server process for a benchmark: started in its own session, polled until ready, always stopped.

Usage::

    with server_process(command, env, log, ready_url, name="slipway", timeout=180) as process:
        ...
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def server_process(
    command: list[str], env: dict[str, str], log: Path, ready_url: str, *, name: str, timeout: float = 120
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(ready_url, timeout=2).status_code == 200:
                        break
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited; see {log}")
                time.sleep(0.25)  # polling a condition, bounded by the deadline
            else:
                raise SystemExit(f"{name} not ready in {timeout:.0f} s; see {log}")
            yield process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
