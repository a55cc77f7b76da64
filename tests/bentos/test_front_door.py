"""The /predict front door keeps what BentoML's middlewares promised: its request metrics, the
concurrency limit (429), the timeout (504), a JSON 500 for a failure; everything else goes to the stack.

Driven as ASGI in-process; the real `bentoml serve` path (BentoML's own metric objects, the access
log, tracing) is in test_serve_integration.py."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import Receive, Scope, Send

from bentos.classifier.front_door import FrontDoor, RequestMetrics, install
from bentos.classifier.runtime import Answer

SERVICE = {"service_name": "classifier", "service_version": "v1", "runner_name": "classifier"}


def _metrics(registry: CollectorRegistry) -> RequestMetrics:
    codes = ["endpoint", "service_name", "service_version", "http_response_code", "runner_name"]
    plain = ["endpoint", "service_name", "service_version", "runner_name"]
    return RequestMetrics(
        total=Counter("bentoml_service_request_total", "requests", codes, registry=registry),
        duration=Histogram("bentoml_service_request_duration_seconds", "duration", codes, registry=registry),
        in_progress=Gauge("bentoml_service_request_in_progress", "now", plain, registry=registry).labels(
            endpoint="/predict", **SERVICE
        ),
        last_request=Gauge(
            "bentoml_service_last_request_timestamp_seconds", "last", list(SERVICE), registry=registry
        ).labels(**SERVICE),
        labels={"endpoint": "/predict", **SERVICE},
    )


async def _stack(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"stack"})


async def _call(door: FrontDoor, method: str = "POST", path: str = "/predict") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": method, "path": path, "headers": [], "scheme": "http",
             "client": ("127.0.0.1", 1), "query_string": b""}  # fmt: skip
    await door(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _run(test: Callable[[], Awaitable[None]]) -> None:
    loop = asyncio.new_event_loop()  # a loop of its own: asyncio.run() would unset the thread's loop
    try:
        loop.run_until_complete(test())
    finally:
        loop.close()


def _door(handler: Callable[..., Awaitable[Answer | None]], registry: CollectorRegistry, **limits: Any) -> FrontDoor:
    limits.setdefault("timeout", 30.0)
    limits.setdefault("max_concurrency", 8)
    return FrontDoor(_stack, handler, _metrics(registry), access_log=None, **limits)


def _count(registry: CollectorRegistry, code: int) -> float | None:
    labels = {"endpoint": "/predict", "http_response_code": str(code), **SERVICE}
    return registry.get_sample_value("bentoml_service_request_total", labels)


def test_answers_are_counted_with_their_status_and_duration() -> None:
    registry = CollectorRegistry()

    async def handler(scope: Any, receive: Any) -> Answer:
        return (200, {"request_id": "req-1"}) if scope["method"] == "POST" else (422, {})

    async def test() -> None:
        door = _door(handler, registry)
        assert await _call(door) == (200, b'{"request_id":"req-1"}')
        assert await _call(door) == (200, b'{"request_id":"req-1"}')
        assert await _call(door, path="/review/pending") == (299, b"stack")  # not ours: the stack answers
        assert await _call(door, method="GET") == (299, b"stack")

    _run(test)
    assert _count(registry, 200) == 2
    labels = {"endpoint": "/predict", "http_response_code": "200", **SERVICE}
    assert registry.get_sample_value("bentoml_service_request_duration_seconds_count", labels) == 2
    in_progress = {"endpoint": "/predict", **SERVICE}
    assert registry.get_sample_value("bentoml_service_request_in_progress", in_progress) == 0
    assert (registry.get_sample_value("bentoml_service_last_request_timestamp_seconds", SERVICE) or 0) > 0


def test_past_the_concurrency_limit_a_request_is_refused_with_429_and_counted() -> None:
    registry = CollectorRegistry()
    release = asyncio.Event()
    entered = asyncio.Event()

    async def handler(scope: Any, receive: Any) -> Answer:
        entered.set()
        await release.wait()
        return 200, {}

    async def test() -> None:
        door = _door(handler, registry, max_concurrency=1)
        first = asyncio.ensure_future(_call(door))
        await entered.wait()
        assert await _call(door) == (429, b'{"error":"Too many requests"}')
        release.set()
        assert (await first)[0] == 200

    _run(test)
    assert _count(registry, 429) == 1 and _count(registry, 200) == 1


def test_no_answer_within_the_timeout_is_a_504() -> None:
    registry = CollectorRegistry()

    async def handler(scope: Any, receive: Any) -> Answer:
        await asyncio.Event().wait()  # never answers
        return 200, {}

    async def test() -> None:
        status, body = await _call(_door(handler, registry, timeout=0.05))
        assert status == 504 and "0.05 seconds" in json.loads(body)["error"]

    _run(test)
    assert _count(registry, 504) == 1


def test_a_failure_is_a_json_500_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()

    async def handler(scope: Any, receive: Any) -> Answer:
        raise RuntimeError("the disk caught fire")

    async def test() -> None:
        assert await _call(_door(handler, registry)) == (500, b'{"error":"internal error"}')

    with caplog.at_level(logging.ERROR, logger="slipway.classifier"):
        _run(test)
    assert _count(registry, 500) == 1
    assert "the disk caught fire" in caplog.text  # the traceback is in the log, not in the answer


def test_while_the_service_is_not_up_the_stack_answers() -> None:
    registry = CollectorRegistry()

    async def handler(scope: Any, receive: Any) -> Answer | None:
        return None

    async def test() -> None:
        assert await _call(_door(handler, registry)) == (299, b"stack")

    _run(test)
    assert _count(registry, 200) is None


def test_it_is_not_installed_where_bentoml_s_request_metrics_are_not_in_the_stack() -> None:
    from starlette.applications import Starlette

    app = Starlette()
    assert install(app, lambda scope, receive: asyncio.sleep(0), service_name="classifier") == (
        False,
        "the app has no built middleware stack",
    )
    app.middleware_stack = app.build_middleware_stack()
    installed, why = install(app, lambda scope, receive: asyncio.sleep(0), service_name="classifier")
    assert not installed and "request metrics middleware is not in the stack" in why
    assert not isinstance(app.middleware_stack, FrontDoor)
