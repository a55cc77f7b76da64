"""HTTP and SQL sources: retries with backoff, a circuit breaker, stale sources and catching up."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.config import load_config
from pipelines.run import run_pipeline
from slipway.signing import KeyStore
from tests.wdbc import FEATURE_NAMES


def _record(key: str, **changes: Any) -> dict[str, Any]:
    return {"record_id": key, "event_time": "2026-05-01T00:00:00Z", **dict.fromkeys(FEATURE_NAMES, 0.5), **changes}


class Script:
    """What the fake API answers, in order; the last answer repeats."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = [(200, b"[]")]
        self.requests = 0


@pytest.fixture
def api() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            index = min(script.requests, len(script.answers) - 1)
            script.requests += 1
            status, body = script.answers[index]
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/records", script
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def _keys() -> None:
    KeyStore(Path(os.environ["SLIPWAY_HOME"]) / "keys").generate()


def _config(tmp_path: Path, **source: Any) -> Any:
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({"sources": [{"name": "api", "backoff": 0.01, **source}]}))
    return load_config(path)


def test_http_retries_transient_failures_then_reads(api: tuple[str, Script], tmp_path: Path) -> None:
    url, script = api
    script.answers = [(503, b""), (503, b""), (200, json.dumps({"records": [_record("h1"), _record("h2")]}).encode())]
    report = run_pipeline(_config(tmp_path, kind="http", url=url, attempts=4), tmp_path / "out")
    assert script.requests == 3
    assert report["sources"]["api"]["status"] == "ok" and report["sources"]["api"]["rows_out"] == 2


def test_a_source_that_stays_down_is_stale_and_the_next_run_catches_up(api: tuple[str, Script], tmp_path: Path) -> None:
    url, script = api
    script.answers = [(503, b"")]
    config = _config(tmp_path, kind="http", url=url, attempts=2, cool_down=0)
    down = run_pipeline(config, tmp_path / "out")
    assert down["sources"]["api"]["status"] == "stale" and down["exit_code"] == 3
    assert "unreachable after 2 attempts" in down["sources"]["api"]["error"]
    assert down["sources"]["api"]["last_success"] is None
    script.answers, script.requests = [(200, json.dumps([_record("h1")]).encode())], 0
    back = run_pipeline(config, tmp_path / "out")
    assert back["sources"]["api"]["status"] == "ok" and back["exit_code"] == 0
    assert back["sources"]["api"]["last_success"] is not None
    assert pl.read_parquet(tmp_path / "out/data/records.parquet")["record_id"].to_list() == ["h1"]


def test_the_circuit_opens_after_repeated_failures(api: tuple[str, Script], tmp_path: Path) -> None:
    url, script = api
    script.answers = [(503, b"")]
    config = _config(tmp_path, kind="http", url=url, attempts=1, cool_down=3600)
    for _ in range(3):
        run_pipeline(config, tmp_path / "out")
    assert script.requests == 3
    skipped = run_pipeline(config, tmp_path / "out")
    assert script.requests == 3, "an open circuit must not call the source"
    assert "circuit open after 3 consecutive failures" in skipped["sources"]["api"]["error"]


def test_client_errors_fail_without_retrying(api: tuple[str, Script], tmp_path: Path) -> None:
    url, script = api
    script.answers = [(404, b"{}")]
    report = run_pipeline(_config(tmp_path, kind="http", url=url, attempts=5), tmp_path / "out")
    assert script.requests == 1
    assert report["sources"]["api"]["status"] == "failed" and "HTTP 404" in report["sources"]["api"]["error"]
    assert report["exit_code"] == 4 and report["totals"]["status"] == "failed"


def test_an_unchanged_response_is_not_processed_twice(api: tuple[str, Script], tmp_path: Path) -> None:
    url, script = api
    script.answers = [(200, json.dumps([_record("h1")]).encode())]
    config = _config(tmp_path, kind="http", url=url)
    run_pipeline(config, tmp_path / "out")
    again = run_pipeline(config, tmp_path / "out")
    assert again["sources"]["api"]["files_skipped"] == 1 and again["totals"]["rows_in"] == 0


def test_sqlite_source_reads_a_query(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.db"
    with sqlite3.connect(database) as db:
        columns = ["record_id", "event_time", *FEATURE_NAMES]
        db.execute(f"CREATE TABLE screening ({', '.join(f'{c!r}' for c in columns)})")
        db.execute(f"INSERT INTO screening VALUES ({', '.join('?' * len(columns))})", list(_record("s1").values()))
        db.execute(f"INSERT INTO screening VALUES ({', '.join('?' * len(columns))})",
                   list(_record("s2", mean_radius=None).values()))  # fmt: skip
    config = _config(tmp_path, kind="sql", url=f"sqlite:///{database}", query="SELECT * FROM screening")
    report = run_pipeline(config, tmp_path / "out")
    source = report["sources"]["api"]
    assert (source["rows_in"], source["rows_out"], source["quarantined"]) == (2, 1, 1)


def test_sql_outages_and_errors(tmp_path: Path) -> None:
    missing = _config(tmp_path, kind="sql", url=f"sqlite:///{tmp_path / 'nope.db'}", query="SELECT 1", attempts=2)
    assert run_pipeline(missing, tmp_path / "out")["sources"]["api"]["status"] == "stale"
    database = tmp_path / "w.db"
    sqlite3.connect(database).close()
    broken = _config(tmp_path, kind="sql", url=f"sqlite:///{database}", query="SELECT * FROM no_such_table")
    report = run_pipeline(broken, tmp_path / "out2")
    assert report["sources"]["api"]["status"] == "failed" and "no such table" in report["sources"]["api"]["error"]
