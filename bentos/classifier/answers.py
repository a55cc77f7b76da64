"""The server's answers as HTTP: a ``(status, body)`` pair as a JSON response, and the one media type
the APIs take. Shared by the BentoML handlers and the ``/predict`` fast path, so both answer alike.

Usage::

    refusal = refused_media_type(scope_headers(scope))     # (415, {...}) unless the body is JSON
    await response((200, {"request_id": "req-1", ...}))(scope, receive, send)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from bentos.classifier.runtime import Answer

JSON = "application/json"


def scope_headers(scope: Mapping[str, Any]) -> dict[str, str]:
    """An ASGI request's headers by lower-case name (ASGI already lower-cases them)."""
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers") or ()}


def refused_media_type(headers: Mapping[str, str]) -> Answer | None:
    """415 unless the body is JSON (a missing Content-Type is taken as JSON)."""
    media_type = headers.get("content-type", JSON).split(";")[0].strip().lower()
    return None if media_type in (JSON, "") else (415, {"error": f"send {JSON}, not {media_type}"})


def response(answer: Answer) -> JSONResponse:
    """The answer with its status, its request id as ``X-Request-Id`` and, on 401, the challenge."""
    status, body = answer
    headers = {"X-Request-Id": str(body["request_id"])} if "request_id" in body else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="slipway"'
    return JSONResponse(body, status_code=status, headers=headers)
