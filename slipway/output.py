"""How every command answers: human lines on a terminal, JSON otherwise; reports written atomically.

Usage::

    emit({"tag": tag}, [f"stored {tag}"])
    with atomic_output(Path("report.sarif")) as stream:
        stream.write(text)
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[TextIO]:
    """A stream whose content replaces ``path`` only when complete: readers never see half a report."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def emit(data: dict[str, Any], human: list[str]) -> None:
    """Human lines on a terminal, JSON otherwise."""
    if sys.stdout.isatty():
        for line in human:
            click.echo(line)
    else:
        click.echo(json.dumps(data, indent=2, default=str))
