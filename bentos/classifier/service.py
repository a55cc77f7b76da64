"""The BentoML service: `bentoml serve bentos.classifier.service:Classifier` (what `slipway serve` runs).

Endpoints: POST /predict, POST /review/pending, /review/item, /review/resolve; BentoML's /livez,
/readyz (503 with the reason while the model is refused), /metrics (BentoML's plus ours) and
/docs.json. All behaviour lives in ``runtime.ModelRuntime``; this module only adapts it to HTTP.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


import bentoml
from prometheus_client import CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException

from bentos.classifier.access import AccessGate
from bentos.classifier.answers import refused_media_type, response, scope_headers
from bentos.classifier.batching import PredictionBatcher
from bentos.classifier.pages.app import review_pages
from bentos.classifier.predict_endpoint import PredictEndpoint
from bentos.classifier.review_queue import ReviewStoreUnavailable
from bentos.classifier.review_store import ReviewStore, read_review_key
from bentos.classifier.runtime import Answer, ModelRuntime
from bentos.classifier.settings import ServerSettings
from slipway.errors import SlipwayError
from slipway.identity import Identity
from slipway.identity.settings import AuthSettings
from slipway.logs import configure

API_ROUTES = frozenset({"/predict", "/review/pending", "/review/item", "/review/claim", "/review/resolve"})


class JsonOnly:
    """ASGI middleware: the APIs take JSON only. Anything else gets 415 before BentoML parses it
    (BentoML answers a malformed multipart body with a 500, which must never reach a caller)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in API_ROUTES:
            refusal = refused_media_type(scope_headers(scope))
            if refusal is not None:
                await response(refusal)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _answer(ctx: bentoml.Context, answer: Answer) -> Any:
    """For handlers that take the context: BentoML applies its status to whatever is returned."""
    ctx.response.status_code = answer[0]
    return response(answer)  # BentoML passes Response objects through


@bentoml.service(
    name="classifier",
    labels={"owner": "ml-platform", "project": "slipway"},
    workers=1,
    traffic={"timeout": 30, "max_concurrency": 256},
    endpoints={"livez": "/livez", "readyz": "/readyz"},
)
class Classifier:
    def __init__(self) -> None:
        configure()
        self.registry = CollectorRegistry()
        settings = ServerSettings()
        self.runtime = ModelRuntime.start(settings, self.registry, settings.load_contract())
        self.batcher = PredictionBatcher(self.runtime, max_rows=max(settings.max_batch, 1))
        auth = AuthSettings()
        self.gate = AccessGate.from_settings(auth)
        trusts_dev_issuer = auth.issuer is None and self.gate.verifier is not None  # its issuer.json was found
        self.pages = PageContext.of(self.runtime, self.gate, settings, dev_login=trusts_dev_issuer)
        _CURRENT[:] = [self]

    def _identity(self, route: str, ctx: bentoml.Context) -> tuple[Identity | None, Any]:
        """The verified caller, or the refusal response (nothing is read or written before this)."""
        request = ctx.request
        identity, refusal = self.gate.check(route, request.headers, request.url.query)
        if refusal is not None:
            return None, _answer(ctx, refusal)
        return identity, None

    async def __is_ready__(self) -> bool:
        reason = self.runtime.readiness()
        if reason is not None:
            raise HTTPException(status_code=503, detail=reason)
        return True

    def __metrics__(self, content: str) -> str:
        """BentoML's output already carries our counters and gauges (multiprocess files) when served by
        `bentoml serve`; add what is read at scrape time (and everything when not multiprocess)."""
        registry = self.runtime.metrics.scrape_time if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else self.registry
        return content + generate_latest(registry).decode("utf-8")

    @bentoml.api(route="/predict")
    async def predict(
        self,
        ctx: bentoml.Context,
        record: dict[str, Any] | None = None,
        records: list[Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Classify one record or a batch; low-confidence, unusual and high-stakes cases go to review."""
        _, refusal = self._identity("/predict", ctx)
        if refusal is not None:
            return refusal
        if request_id is None:
            request_id = ctx.request.headers.get("x-request-id")
        return _answer(ctx, await self.batcher.predict({"record": record, "records": records}, request_id))

    @bentoml.api(route="/review/pending")
    def review_pending(self, ctx: bentoml.Context, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Reviews waiting for a person, oldest first (reviewer, second-reviewer, auditor, admin)."""
        identity, refusal = self._identity("/review/pending", ctx)
        if identity is None:
            return refusal
        return _answer(ctx, self.runtime.review_pending(limit, offset, identity))

    @bentoml.api(route="/review/item")
    def review_item(self, ctx: bentoml.Context, review_id: str) -> dict[str, Any]:
        """One review with its decrypted features and note (reviewer, second-reviewer, admin; audited)."""
        identity, refusal = self._identity("/review/item", ctx)
        if identity is None:
            return refusal
        return _answer(ctx, self.runtime.review_item(review_id, identity))

    @bentoml.api(route="/review/claim")
    def review_claim(self, ctx: bentoml.Context, review_id: str, lease_seconds: float = 300.0) -> dict[str, Any]:
        """Take a review (it returns to the queue when the lease expires); answers with its version."""
        identity, refusal = self._identity("/review/claim", ctx)
        if identity is None:
            return refusal
        return _answer(ctx, self.runtime.review_claim(review_id, lease_seconds, identity))

    @bentoml.api(route="/review/resolve")
    def review_resolve(
        self, ctx: bentoml.Context, review_id: str, label: str, version: int, note: str = ""
    ) -> dict[str, Any]:
        """Record the label on a review you claimed (at ``version``); the reviewer is the token's subject.
        High-stakes cases need a second person; every change is audited."""
        identity, refusal = self._identity("/review/resolve", ctx)
        if identity is None:
            return refusal
        return _answer(ctx, self.runtime.review_resolve(review_id, label, note, version, identity))


_CURRENT: list[Classifier] = []  # this worker process's service instance (the pages read it)


@dataclass(frozen=True)
class PageContext:
    """What the review pages need from the running service."""

    runtime: ModelRuntime
    gate: AccessGate
    csrf_key: bytes
    review_sla: float
    dev_login: bool
    four_eyes: tuple[str, ...]  # classes whose cases a second person confirms

    @classmethod
    def of(cls, runtime: ModelRuntime, gate: AccessGate, settings: ServerSettings, *, dev_login: bool) -> PageContext:
        try:
            key = read_review_key(settings)
        except SlipwayError:
            key = secrets.token_bytes(32)  # no review key: the pages cannot show a case anyway
        four_eyes = settings.four_eyes_classes(runtime.contract)
        return cls(runtime, gate, key, settings.review_sla_seconds, dev_login, four_eyes)

    @property
    def queue(self) -> ReviewStore:
        if self.runtime.queue is None:
            raise ReviewStoreUnavailable(self.runtime.queue_problem or "no review queue configured")
        return self.runtime.queue

    @property
    def contract(self) -> Any:
        return self.runtime.contract

    @property
    def model(self) -> Any:
        return self.runtime.model


def _pages() -> PageContext:
    return _CURRENT[0].pages


SERVICE: Any = Classifier  # the decorator made it a bentoml.Service (untyped)
SERVICE.add_asgi_middleware(PredictEndpoint, service=lambda: _CURRENT[0] if _CURRENT else None, name=SERVICE.name)
SERVICE.add_asgi_middleware(JsonOnly)
SERVICE.mount_asgi_app(review_pages(_pages), path="/ui")
