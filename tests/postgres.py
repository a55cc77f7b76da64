"""A real PostgreSQL server for tests (``slipway.local_postgres``) in a temporary directory."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from slipway.local_postgres import LocalPostgres


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yields the DSN of an empty database ``reviews`` owned by ``slipway`` (trust auth, loopback only)."""
    root = Path(tempfile.mkdtemp(prefix="slipway-pg-"))
    try:
        with LocalPostgres(root) as database:
            yield database.dsn
    finally:
        shutil.rmtree(root, ignore_errors=True)
