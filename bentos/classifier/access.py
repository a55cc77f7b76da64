"""Who may call which endpoint: the token is verified in the app (never a proxy's identity header).

| endpoint | roles |
|---|---|
| /predict | caller — only when SLIPWAY_AUTH_PREDICT is true (else the NetworkPolicy decides) |
| /review/pending | reviewer, second-reviewer, auditor, admin |
| /review/item (decrypted features) | reviewer, second-reviewer, admin |
| /review/claim, /review/resolve | reviewer, second-reviewer, admin (see ``review_flow`` for each stage) |

Every refusal happens before anything is read or written: 401 without a valid bearer token (or
with one in the URL), 403 with a valid token but without the role or from a cross-site request,
503 when the issuer's keys cannot be fetched.

Usage::

    gate = AccessGate.from_settings(AuthSettings())
    identity, refusal = gate.check("/review/item", request.headers, request.url.query)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from slipway.identity import (
    ADMIN,
    AUDITOR,
    CALLER,
    REVIEWER,
    SECOND_REVIEWER,
    Forbidden,
    Identity,
    TokenRejected,
    TokenVerifier,
)
from slipway.identity.jwks import KeysUnavailable
from slipway.identity.settings import AuthSettings

ROUTE_ROLES: dict[str, tuple[str, ...]] = {
    "/predict": (CALLER,),
    "/review/pending": (REVIEWER, SECOND_REVIEWER, AUDITOR, ADMIN),
    "/review/item": (REVIEWER, SECOND_REVIEWER, ADMIN),
    "/review/claim": (REVIEWER, SECOND_REVIEWER, ADMIN),
    "/review/resolve": (REVIEWER, SECOND_REVIEWER, ADMIN),
}
TOKEN_IN_URL = re.compile(r"(^|&)(access_token|id_token|token|bearer)=", re.IGNORECASE)
Refusal = tuple[int, dict[str, Any]]


@dataclass
class AccessGate:
    verifier: TokenVerifier | None
    problem: str | None  # why nobody can be verified (no issuer configured, a bad setting)
    predict_needs_token: bool

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> AccessGate:
        try:
            trust = settings.trust()
        except ValueError as exc:
            return cls(None, str(exc), settings.predict)
        if trust is None:
            problem = "no identity provider is configured (SLIPWAY_AUTH_ISSUER, or `slipway auth dev-issuer`)"
            return cls(None, problem, settings.predict)
        return cls(TokenVerifier(trust), None, settings.predict)

    def check(self, route: str, headers: Mapping[str, str], query: str) -> tuple[Identity | None, Refusal | None]:
        """The caller's verified identity, or the refusal to answer with."""
        if route == "/predict" and not self.predict_needs_token:
            return None, None
        if TOKEN_IN_URL.search(query):
            return None, (401, {"error": "tokens in the URL are refused (URLs end up in logs): send Authorization"})
        if _cross_site(headers):
            return None, (403, {"error": "cross-site requests are refused"})
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, (401, {"error": "an access token is required: Authorization: Bearer <token>"})
        if self.verifier is None:
            return None, (401, {"error": f"nobody can be verified: {self.problem}"})
        try:
            identity = self.verifier.verify(token.strip())
            identity.require(*ROUTE_ROLES[route])
        except TokenRejected as exc:
            return None, (401, {"error": f"token refused: {exc}"})
        except Forbidden as exc:
            return None, (403, {"error": str(exc)})
        except KeysUnavailable as exc:
            return None, (503, {"error": "identity provider unavailable", "reason": str(exc)})
        return identity, None


def _cross_site(headers: Mapping[str, str]) -> bool:
    """A browser's cross-site request (a CSRF attempt), by Fetch metadata or an Origin from elsewhere."""
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower()
