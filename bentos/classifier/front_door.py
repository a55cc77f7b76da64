"""POST /predict answered in front of BentoML's per-request middleware stack, with the same results.

Why: measured (``benchmarks/peers_bench.py``), BentoML's stack — request metrics, OpenTelemetry,
access log, timeout (a task and a timer that is never cancelled, per request), concurrency limit,
error and context middlewares — cost about 0.5 ms of CPU per request: more than the model,
validation, routing and review writes of a batched request together. In front of the stack, this
layer does for /predict what those middlewares did, and nothing changes for a caller, an alert or
an operator:

- BentoML's request metrics are counted on the metric objects BentoML made (found in its stack), so
  ``bentoml_service_request_total``, ``_duration_seconds``, ``_in_progress`` and
  ``bentoml_service_last_request_timestamp_seconds`` carry /predict with the same labels;
- the service's traffic limits hold: 429 past ``max_concurrency`` requests in progress, 504 when
  no answer came within ``timeout`` seconds (BentoML's statuses and bodies);
- BentoML's access log line is written when its access log is on;
- an unexpected failure is a JSON 500 with the traceback logged (never a dropped connection).

It is installed as the app starts (the lifespan passes through ``PredictEndpoint``, which calls
``install``), and only when it can keep those promises: BentoML's metrics middleware is in the
stack and no trace exporter is configured (with tracing on, /predict stays inside the stack, where
the spans are made). Otherwise /predict is served inside the stack, as before, and the log says why.

Usage::

    installed, why = install(scope["app"], handler, service_name="classifier")
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bentos.classifier.answers import response
from bentos.classifier.runtime import Answer

logger = logging.getLogger("slipway.classifier")
ROUTE = "/predict"
Handler = Callable[[Scope, Receive], Awaitable[Answer | None]]  # None: not ready, let the stack answer


@dataclass
class RequestMetrics:
    """BentoML's request metrics for one endpoint, with the label children kept."""

    total: Any
    duration: Any
    in_progress: Any
    last_request: Any
    labels: dict[str, Any]
    _by_status: dict[int, tuple[Any, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, middleware: Any, endpoint: str) -> RequestMetrics:
        """From BentoML's ``RunnerTrafficMetricsMiddleware`` (set up: it has seen the lifespan)."""
        from bentoml._internal.context import server_context

        service: dict[str, Any] = {"service_name": server_context.bento_name,
                                   "service_version": server_context.bento_version,
                                   "runner_name": server_context.service_name}  # fmt: skip
        return cls(
            total=middleware.metrics_request_total,
            duration=middleware.metrics_request_duration,
            in_progress=middleware.metrics_request_in_progress.labels(endpoint=endpoint, **service),
            last_request=middleware.metrics_last_request_timestamp.labels(**service),
            labels={"endpoint": endpoint, **service},
        )

    def finished(self, status: int, seconds: float) -> None:
        children = self._by_status.get(status)
        if children is None:
            children = self._by_status[status] = (
                self.total.labels(http_response_code=status, **self.labels),
                self.duration.labels(http_response_code=status, **self.labels),
            )
        children[0].inc()
        children[1].observe(seconds)


@dataclass(frozen=True)
class AccessLog:
    """BentoML's access log line (``bentoml.access``), as its middleware words it."""

    request_length: bool
    request_type: bool
    response_length: bool
    response_type: bool
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("bentoml.access"))

    @classmethod
    def configured(cls, endpoint: str) -> AccessLog | None:
        """The access log as BentoML's configuration has it for ``endpoint``; None when it is off."""
        from bentoml._internal.configuration.containers import BentoMLContainer

        access = BentoMLContainer.api_server_config.logging.access
        if not access.enabled.get() or endpoint.startswith(tuple(access.skip_paths.get())):
            return None
        return cls(access.request_content_length.get(), access.request_content_type.get(),
                   access.response_content_length.get(), access.response_content_type.get())  # fmt: skip

    def write(self, scope: Scope, answer: JSONResponse, milliseconds: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        request = [f"scheme={scope['scheme']}", f"method={scope['method']}", f"path={scope['path']}"]
        if self.request_type or self.request_length:
            headers = dict(scope["headers"])
            if self.request_type:
                request.append(f"type={headers.get(b'content-type', b'').decode('latin-1')}")
            if self.request_length:
                request.append(f"length={headers.get(b'content-length', b'').decode('latin-1')}")
        reply = [f"status={answer.status_code}"]
        if self.response_type:
            reply.append(f"type={answer.media_type}")
        if self.response_length:
            reply.append(f"length={len(answer.body)}")
        address = f"{client[0]}:{client[1]}" if client else "_"
        self.logger.info("%s (%s) (%s) %.3fms", address, ",".join(request), ",".join(reply), milliseconds)


class FrontDoor:
    """The app's outermost layer: POST /predict here, everything else to BentoML's stack."""

    def __init__(self, stack: ASGIApp, handler: Handler, metrics: RequestMetrics, *, timeout: float | None,
                 max_concurrency: int | None, access_log: AccessLog | None) -> None:  # fmt: skip
        self.stack, self.handler, self.metrics = stack, handler, metrics
        self.timeout, self.max_concurrency, self.access_log = timeout, max_concurrency, access_log
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != ROUTE or scope["method"] != "POST":
            await self.stack(scope, receive, send)
            return
        start = time.perf_counter()
        self.metrics.last_request.set(time.time())
        if self.max_concurrency and self.in_progress >= self.max_concurrency:
            await self._send(scope, receive, send, JSONResponse({"error": "Too many requests"}, 429), start)
            return
        self.in_progress += 1
        self.metrics.in_progress.inc()
        try:
            answer = await self._answer(scope, receive)
            if answer is None:  # the service is not up yet: the stack answers as it would
                await self.stack(scope, receive, send)
                return
            await self._send(scope, receive, send, answer, start)
        finally:
            self.in_progress -= 1
            self.metrics.in_progress.dec()

    async def _answer(self, scope: Scope, receive: Receive) -> JSONResponse | None:
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self.handler(scope, receive)
        except TimeoutError:
            return JSONResponse({"error": f"Not able to process the request in {self.timeout} seconds"}, 504)
        except Exception:
            logger.exception("POST %s failed", ROUTE)
            return JSONResponse({"error": "internal error"}, 500)
        return None if answer is None else response(answer)

    async def _send(self, scope: Scope, receive: Receive, send: Send, answer: JSONResponse, start: float) -> None:
        await answer(scope, receive, send)
        seconds = max(time.perf_counter() - start, 0.0)
        self.metrics.finished(answer.status_code, seconds)
        if self.access_log is not None:
            self.access_log.write(scope, answer, seconds * 1000)


def _layers(app: Any) -> Iterator[Any]:
    """The middleware chain from ``app`` inwards (each Starlette/BentoML middleware keeps ``.app``)."""
    seen = 0
    while app is not None and seen < 64:
        yield app
        app, seen = getattr(app, "app", None), seen + 1


def traffic_limits(service_name: str) -> tuple[float | None, int | None]:
    """The request timeout and this worker's concurrency limit, as BentoML derives them from the
    service's configuration (``traffic``; the limit is per service, shared among its workers)."""
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.resource import system_resources

    config = BentoMLContainer.config.services[service_name].get()
    traffic = config.get("traffic") or {}
    workers = config.get("workers") or 1
    if workers == "cpu_count":
        workers = int(system_resources()["cpu"])
    limit = traffic.get("max_concurrency")
    return traffic.get("timeout"), math.ceil(limit / int(workers)) if limit else None


def install(app: Any, handler: Handler, *, service_name: str) -> tuple[bool, str]:
    """Put the front door before ``app``'s built middleware stack; whether it did, and why not."""
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.server.http.instruments import RunnerTrafficMetricsMiddleware

    stack = getattr(app, "middleware_stack", None)
    if stack is None:
        return False, "the app has no built middleware stack"
    if isinstance(stack, FrontDoor):
        return True, "installed already"
    if BentoMLContainer.tracing.exporter_type.get():
        return False, "a trace exporter is configured: /predict stays inside BentoML's stack, where spans are made"
    found = next((layer for layer in _layers(stack) if isinstance(layer, RunnerTrafficMetricsMiddleware)), None)
    if found is None or not getattr(found, "_is_setup", False):
        return False, "BentoML's request metrics middleware is not in the stack"
    timeout, limit = traffic_limits(service_name)
    app.middleware_stack = FrontDoor(stack, handler, RequestMetrics.of(found, ROUTE), timeout=timeout,
                                     max_concurrency=limit, access_log=AccessLog.configured(ROUTE))  # fmt: skip
    return True, "installed"
