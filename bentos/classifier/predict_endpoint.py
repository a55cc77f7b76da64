"""POST /predict as a plain ASGI handler: in front of BentoML's middleware stack when it can be.

Why: the model is cheap and batched, so per-request framework work dominated. The request does not
go through Starlette's router, BentoML's pydantic IO models and a per-call ``inspect.signature``.
When the app starts, this middleware puts a ``front_door.FrontDoor`` before BentoML's whole stack,
which keeps that stack's results for /predict (its request metrics, which the latency and
error-budget alerts read; the timeout, the concurrency limit, the access log) at a fraction of its
cost; where it cannot (tracing on), /predict is answered here, inside the stack. The contract
is the one the BentoML API declares (and still serves to in-process callers and /docs.json): a JSON
object with ``record`` (an object) or ``records`` (a list), and an optional ``request_id``; the same
statuses as before (400 unusable body, 401/403 identity, 413 too large, 415 not JSON, 422 invalid
records, 503 no model).

Usage::

    SERVICE.add_asgi_middleware(PredictEndpoint, service=lambda: running_service_or_none, name=SERVICE.name)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from starlette.types import Receive, Scope, Send

from bentos.classifier.access import AccessGate
from bentos.classifier.answers import refused_media_type, response, scope_headers
from bentos.classifier.batching import PredictionBatcher
from bentos.classifier.front_door import install
from bentos.classifier.runtime import Answer
from slipway.logs import configure

logger = logging.getLogger("slipway.classifier")
MAX_BODY = 32 * 1024 * 1024  # bytes: far above 256 records of any sane contract
FIELDS = {"record": (dict, "an object"), "records": (list, "a list"), "request_id": (str, "a string")}


class Predicting(Protocol):
    """The running service, as this handler needs it."""

    gate: AccessGate
    batcher: PredictionBatcher


class PredictEndpoint:
    def __init__(self, app: Any, service: Callable[[], Predicting | None], *, name: str) -> None:
        self.app, self.service, self.name = app, service, name  # name: the BentoML service's (its config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and "app" in scope:
            self._front_door(scope["app"])
        if scope["type"] == "http" and scope["path"] == "/metrics":
            self._before_scrape()
        service = self.service() if scope["type"] == "http" and scope["path"] == "/predict" else None
        if service is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        await response(await self.predict(service, scope, receive))(scope, receive, send)

    def _before_scrape(self) -> None:
        """The drift gauges and estimate counters take in every record answered so far."""
        service = self.service()
        if service is not None:
            service.batcher.runtime.observations.flush()

    def _front_door(self, app: Any) -> None:
        installed, why = install(app, self.handle, service_name=self.name)
        configure()  # the app starts before the service does (which configures the logs too)
        (logger.info if installed else logger.warning)("/predict front door: %s", why)

    async def handle(self, scope: Scope, receive: Receive) -> Answer | None:
        """The front door's handler: the answer, or None while the service is not up."""
        service = self.service()
        return None if service is None else await self.predict(service, scope, receive)

    async def predict(self, service: Predicting, scope: Scope, receive: Receive) -> Answer:
        headers = scope_headers(scope)
        not_json = refused_media_type(headers)
        if not_json is not None:
            return not_json
        _, refusal = service.gate.check("/predict", headers, scope.get("query_string", b"").decode("latin-1"))
        if refusal is not None:
            return refusal
        body = await read_body(receive)
        if body is None:
            return 413, {"error": f"the body exceeds {MAX_BODY // (1024 * 1024)} MiB"}
        payload, problem = parse(body)
        if problem is not None:
            return 400, {"error": "1 validation error for predict", "detail": problem}
        request_id = payload.get("request_id")
        if request_id is None:
            request_id = headers.get("x-request-id")
        return await service.batcher.predict({"record": payload.get("record"), "records": payload.get("records")},
                                             request_id)  # fmt: skip


async def read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past ``MAX_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The request object, or why it is unusable (as BentoML's input validation words it)."""
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, f"the body is not valid JSON: {exc}"
    if not isinstance(payload, dict):
        return {}, "the body must be a JSON object with 'record' or 'records'"
    for name, (kind, words) in FIELDS.items():
        value = payload.get(name)
        if value is not None and not isinstance(value, kind):
            return {}, f"{name}: must be {words}"
    return payload, None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
