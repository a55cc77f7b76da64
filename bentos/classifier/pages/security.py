"""What every page response and form carries: a strict Content-Security-Policy, a CSRF token bound
to the verified subject, and a same-origin check on every POST.

The CSRF token is an HMAC, under the review key (which every replica has), of the subject and the
token id of the access token they act with: a form rendered by one replica posts to any other, and
a token stolen from another person's page is useless.

Usage::

    token = csrf_token(key, identity)
    ok = csrf_valid(key, identity, submitted) and same_origin(request.headers)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from slipway.identity import Identity

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # case pages show a person's data
}


def csrf_token(key: bytes, identity: Identity) -> str:
    message = f"csrf\0{identity.issuer}\0{identity.subject}\0{identity.token_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, identity: Identity, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(csrf_token(key, identity), submitted)


def same_origin(headers: Mapping[str, str]) -> bool:
    """A POST from a page of this very host (Origin, else Referer); a request naming neither is refused."""
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == headers.get("host", "").lower()
