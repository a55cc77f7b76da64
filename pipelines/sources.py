"""Sources: where batches come from, and what happens when a source is down.

Each source yields *units* (one file, one HTTP response, one query result), each with a stable key
and a content fingerprint, so the checkpoint can tell what was already processed. Network and
database reads are retried with exponential backoff and jitter (tenacity); a per-source circuit
breaker (persisted in the checkpoint) stops hammering a source that keeps failing until its
cool-down has passed. A source that cannot be reached is ``SourceDown`` (the run marks it stale
and goes on); one that answers with something unusable is ``SourceBroken`` (failed).

Usage::

    for unit in open_source(config, state, settings).units():
        for batch in unit.batches():
            ...
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import polars as pl
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from pipelines.config import SourceConfig
from pipelines.reader import Batch, UnreadableFile, numbered, read_bytes
from pipelines.streaming import read_batches
from slipway.errors import SlipwayError


class SourceDown(SlipwayError):
    """The source could not be reached (after retries, or its circuit is open)."""


class SourceBroken(SlipwayError):
    """The source answered, but not with data (HTTP 4xx, SQL error)."""


@dataclass(frozen=True)
class Unit:
    key: str
    fingerprint: str
    batches: Callable[[], Iterator[Batch]]


@dataclass(frozen=True)
class Resilience:
    attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 8.0
    timeout: float = 10.0
    failures_to_open: int = 3
    cool_down: float = 300.0


def _fingerprint_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fingerprint_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FileSource:
    def __init__(self, config: SourceConfig) -> None:
        assert config.path is not None
        self.root = config.path

    def units(self) -> Iterator[Unit]:
        if self.root.is_file():
            files = [self.root]
        elif self.root.is_dir():
            files = sorted(
                p
                for p in self.root.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.root).parts)
            )
        else:
            raise SourceDown(f"{self.root}: no such file or directory (mount missing?)")
        for path in files:
            key = str(path.relative_to(self.root)) if self.root.is_dir() else path.name
            yield Unit(key, _fingerprint_file(path), lambda path=path: read_batches(path))  # type: ignore[misc]


T = TypeVar("T")


class _Breaker:
    """Consecutive-failure circuit breaker whose state lives in the source's checkpoint."""

    def __init__(self, state: dict[str, Any], settings: Resilience, name: str) -> None:
        self.state = state.setdefault("breaker", {"failures": 0, "open_until": 0.0})
        self.settings = settings
        self.name = name

    def check(self) -> None:
        if self.state["open_until"] > time.time():
            raise SourceDown(
                f"circuit open after {self.state['failures']} consecutive failures; "
                f"next attempt after {time.strftime('%H:%M:%S', time.gmtime(self.state['open_until']))} UTC"
            )

    def success(self) -> None:
        self.state.update(failures=0, open_until=0.0)

    def failure(self) -> None:
        self.state["failures"] += 1
        if self.state["failures"] >= self.settings.failures_to_open:
            self.state["open_until"] = time.time() + self.settings.cool_down

    def call(self, down: str, attempt: Callable[[], T]) -> T:
        """`attempt()` retried with backoff and jitter while it fails transiently; `SourceDown` when it
        keeps failing (counted towards opening the circuit; `down` says what was not reached) or the
        circuit is open."""
        self.check()
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(self.settings.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.settings.initial_wait, max=self.settings.max_wait, jitter=self.settings.initial_wait
            ),
            reraise=True,
        )
        try:
            result = retrying(attempt)
        except _Transient as exc:
            self.failure()
            raise SourceDown(f"{down} after {self.settings.attempts} attempts: {exc}") from None
        self.success()
        return result


class _Transient(Exception):
    """A failure worth retrying (connection problems, timeouts, 5xx, a locked database)."""


class HttpSource:
    def __init__(self, config: SourceConfig, state: dict[str, Any], settings: Resilience) -> None:
        assert config.url is not None
        self.url = config.url
        self.settings = settings
        self.breaker = _Breaker(state, settings, config.name)

    def _attempt(self) -> bytes:
        try:
            response = httpx.get(self.url, timeout=self.settings.timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise _Transient(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise SourceBroken(f"{self.url} answered HTTP {response.status_code}")
        return response.content

    def units(self) -> Iterator[Unit]:
        body = self.breaker.call(f"{self.url} unreachable", self._attempt)
        yield Unit(_display(self.url), _fingerprint_bytes(body), lambda: iter([read_bytes(body, self.url)]))


class SqlSource:
    """A SQL query against SQLite (read-only): ``url: sqlite:///path/to.db``."""

    def __init__(self, config: SourceConfig, state: dict[str, Any], settings: Resilience) -> None:
        assert config.url is not None and config.query is not None
        parts = urlsplit(config.url)
        if parts.scheme != "sqlite":
            raise SourceBroken(f"only sqlite:/// URLs are supported, not {parts.scheme}://")
        # sqlite:///abs/path (file-URL style) and sqlite:////abs/path (SQLAlchemy style) both work
        self.path = Path(parts.path[1:] if parts.path.startswith("//") else parts.path)
        self.query = config.query
        self.settings = settings
        self.breaker = _Breaker(state, settings, config.name)

    def _attempt(self) -> tuple[list[str], list[tuple[Any, ...]]]:
        if not self.path.exists():
            raise _Transient(f"database {self.path} not found")
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self.settings.timeout) as db:
                cursor = db.execute(self.query)
                columns = [d[0] for d in cursor.description or []]
                return columns, cursor.fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "unable to open" in str(exc):
                raise _Transient(str(exc)) from None
            raise SourceBroken(f"query failed: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise SourceBroken(f"{self.path}: {exc}") from None

    def units(self) -> Iterator[Unit]:
        columns, rows = self.breaker.call(f"{self.path} unavailable", self._attempt)
        frame = numbered(
            pl.DataFrame(
                {name: [None if r[i] is None else str(r[i]) for r in rows] for i, name in enumerate(columns)},
                schema={name: pl.String for name in columns},
            )
        )
        fingerprint = _fingerprint_bytes(frame.write_csv().encode())
        yield Unit(f"query:{self.path.name}", fingerprint, lambda: iter([Batch(frame, "sql", "utf-8")]))


def _display(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def open_source(config: SourceConfig, state: dict[str, Any], settings: Resilience) -> Any:
    if config.kind == "files":
        return FileSource(config)
    if config.kind == "http":
        return HttpSource(config, state, settings)
    return SqlSource(config, state, settings)


__all__ = ["Resilience", "SourceBroken", "SourceDown", "Unit", "UnreadableFile", "open_source"]
