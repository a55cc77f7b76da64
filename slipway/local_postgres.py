"""A real PostgreSQL server on 127.0.0.1 for rehearsals and tests: Debian's binaries, its own
directory and a free port, run as the `postgres` user (pg_ctl refuses root). It can be stopped and
started again on the same data, as a database outage and its repair.

Usage::

    with LocalPostgres(workdir / "pg") as database:   # an empty database ``reviews`` owned by slipway
        database.dsn
        database.stop(); database.start()
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

from slipway.processes import free_port


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make system-tools` installs it (Debian package postgresql)")
    return found[-1].parent


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


RUN: dict[str, Any] = {"check": True, "capture_output": True, "text": True, "timeout": 120}


def _run(command: list[str]) -> None:
    try:
        subprocess.run(_as_postgres(command), **RUN)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{Path(command[0]).name} failed: {(exc.stderr or exc.stdout).strip()}") from None


class LocalPostgres:
    """Trust authentication on loopback only; ``fsync`` off (a rehearsal's data is throwaway). ``root``
    must be reachable by the `postgres` user (it is given to it when run as root)."""

    def __init__(self, root: Path) -> None:
        self.root, self.bindir, self.port = root, _bindir(), free_port()
        self.data = root / "data"
        self.dsn = f"postgresql://slipway@127.0.0.1:{self.port}/reviews"

    def __enter__(self) -> LocalPostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        _run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "slipway", "-A", "trust", "--no-sync",
              "-E", "UTF8"])  # fmt: skip
        self.start()
        try:
            import psycopg

            with psycopg.connect(f"postgresql://slipway@127.0.0.1:{self.port}/postgres", autocommit=True) as admin:
                admin.execute("CREATE DATABASE reviews")
        except BaseException:
            self.stop()
            raise
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
              "start"])  # fmt: skip

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
                       check=False, capture_output=True, timeout=60)  # fmt: skip

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
