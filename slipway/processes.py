"""Local helper processes (a model server, a Prometheus) started for a demo or a rehearsal: wait
until one answers over HTTP, and always stop its whole process group.

Usage::

    port = free_port()
    process = subprocess.Popen([...], start_new_session=True)
    try:
        wait_until_answering(process, "http://127.0.0.1:3000/readyz", what="the server", log=log)
        ...
    finally:
        stop_group(process)
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

from slipway.errors import SlipwayError

LISTEN_PORTS = (20000, 32000)  # below Linux's ephemeral range (32768-60999)
SLICE = 1000  # each process picks from its own slice of that range (by PID), so processes side by side rarely meet
_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, for a server started next. Chosen below the
    ephemeral range, where a client's outgoing connection could take it between this check and the
    server's bind; from this process's own slice of it first, so two test or drill processes on one
    machine do not hand out the same port; and never twice by this process."""
    low, high = LISTEN_PORTS
    slices = (high - low) // SLICE
    own = low + (os.getpid() % slices) * SLICE
    with _ports_lock:
        for start, width in ((own, SLICE), (low, high - low)):  # the whole range only when the slice is used up
            offset = random.randrange(width)
            for step in range(width):
                port = start + (offset + step) % width
                if port in _handed_out:
                    continue
                with socket.socket() as sock:
                    try:
                        sock.bind(("127.0.0.1", port))
                    except OSError:
                        continue
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free port on 127.0.0.1 in {low}-{high}")


class ProcessNotReady(SlipwayError):
    """The process exited or did not answer in time (its log says why)."""


def wait_until_answering(
    process: subprocess.Popen[bytes], url: str, *, what: str, log: Path, timeout: float = 120.0
) -> None:
    """Poll ``url`` until it answers 200: the condition, not a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ProcessNotReady(f"{what} exited; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ProcessNotReady(f"{what} was not ready within {timeout:.0f} s; see {log}")
        time.sleep(0.2)


def stop_group(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM to the process group (a server's workers too), SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
