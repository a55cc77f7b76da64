"""A real PostgreSQL server for tests: Debian's binaries, a temporary directory, a free port on
127.0.0.1, started and stopped as the `postgres` user (pg_ctl refuses root)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs it (Debian package postgresql)")
    return found[-1].parent


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yields the DSN of an empty database ``reviews`` owned by ``slipway`` (trust auth, loopback only)."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="slipway-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    try:
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "slipway", "-A", "trust",
                                     "--no-sync", "-E", "UTF8"]), **run)  # type: ignore[call-overload]  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                                     str(root / "log"), "-w", "start"]), **run)  # type: ignore[call-overload]  # fmt: skip
        try:
            import psycopg

            with psycopg.connect(f"postgresql://slipway@127.0.0.1:{port}/postgres", autocommit=True) as admin:
                admin.execute("CREATE DATABASE reviews")
            yield f"postgresql://slipway@127.0.0.1:{port}/reviews"
        finally:
            subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                           check=False, capture_output=True, timeout=60)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
