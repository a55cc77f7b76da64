"""A real `slipway serve` (bentoml serve underneath) on 127.0.0.1 and a free port, always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from slipway.processes import free_port
from tests.conftest import SLIPWAY

__all__ = ["free_port", "running"]


# BentoML picks its internal (circus control) ports by finding a free one and binding it later; on a
# busy loopback another socket can take it in between and the server exits at start. A supervisor
# (the kubelet) restarts it; the tests do the same, for that one cause only, at most twice.
BENTOML_PORT_RACE = "zmq.error.ZMQError: Address already in use"


class Server:
    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, **env}
        self._log = log.open("ab")
        self.log = log
        self.restarts = 0
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [SLIPWAY, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self._env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_up(self, path: str = "/livez", timeout: float = 90.0) -> None:
        """Poll until ``path`` answers 200 (the condition, not a fixed sleep), or fail with the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if self.restarts < 2 and BENTOML_PORT_RACE in self.log.read_text(errors="replace")[-3000:]:
                    self.restarts += 1
                    self._log.write(b"\n-- restarted after BentoML's internal port race --\n")
                    self.process = self._start()
                    continue
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{path} not 200 after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def tree(self) -> list[int]:
        """The server's processes, its workers included: BentoML's supervisor starts each worker in
        a session of its own, so signalling the server's process group does not reach them."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, waiting = [], [self.process.pid]
        while waiting:
            pid = waiting.pop()
            found.append(pid)
            waiting.extend(children.get(pid, []))
        return found

    def kill(self) -> list[str]:
        """SIGKILL to every process of the server at once, workers included (a crash, not a stop);
        the command lines of the processes killed."""
        tree = self.tree()
        commands = []
        for pid in tree:
            with contextlib.suppress(OSError):
                commands.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in tree):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {tree} outlived SIGKILL")
            time.sleep(0.05)  # polling the condition (reaping by their parent), bounded by the deadline
        return commands

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def _alive(pid: int) -> bool:
    """Not gone and not a zombie (a killed child waits for its parent to reap it)."""
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@contextlib.contextmanager
def running(env: dict[str, str], log: Path, port: int | None = None) -> Iterator[Server]:
    server = Server(env, log, port)
    try:
        yield server
    finally:
        server.stop()
