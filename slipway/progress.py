"""A spinner on stderr for long work, only on a terminal (quiet and machine-readable otherwise).

Usage::

    with status("building the image"):
        build()
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
