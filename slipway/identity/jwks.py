"""The issuer's signing keys (JWKS), fetched over HTTP and cached.

Keys are refreshed when older than ``max_age``; a token naming an unknown key id triggers one
refetch at most every ``cool_down`` seconds, so a flood of made-up ``kid`` values cannot make the
server hammer the identity provider. Only signature keys with a key id are kept; a key's own
``alg``, when it states one, must be the token's.

Usage::

    keys = JwksCache("https://idp.example/realms/ml/protocol/openid-connect/certs")
    key = keys.key("a1b2")          # a PyJWK, or None
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import jwt

from slipway.errors import SlipwayError

logger = logging.getLogger("slipway.identity")
MAX_JWKS_BYTES = 256 * 1024


class KeysUnavailable(SlipwayError):
    """The issuer's keys cannot be fetched and none are cached (HTTP 503: nobody can be verified)."""


class JwksCache:
    def __init__(self, url: str, *, max_age: float = 300.0, cool_down: float = 30.0, timeout: float = 5.0) -> None:
        self.url = url
        self.max_age = max_age
        self.cool_down = cool_down
        self.timeout = timeout
        self.fetches = 0
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            now = time.monotonic()
            if self._keys is None or now - self._fetched_at >= self.max_age:
                self._refresh(now)
            assert self._keys is not None
            found = self._keys.get(kid)
            if found is None and now - self._fetched_at >= self.cool_down:
                self._refresh(now)  # perhaps the issuer rotated its keys since the last fetch
                found = self._keys.get(kid)
            return found

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        try:
            response = httpx.get(self.url, timeout=self.timeout, follow_redirects=False)
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError("the key set is implausibly large")
            keys = _parse(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            self._fetched_at = now  # the cool-down applies to failures too
            if self._keys is None:
                raise KeysUnavailable(f"cannot fetch the identity provider's keys from {self.url}: {exc}") from None
            logger.warning("keeping the cached keys: cannot refresh %s: %s", self.url, exc)
            return
        self._keys, self._fetched_at = keys, now


def _parse(document: Any) -> dict[str, jwt.PyJWK]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("use", "sig") != "sig":
            continue
        if "d" in entry or "k" in entry:  # a private or symmetric key has no place in a public key set
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # a key type this kit does not verify with
    return keys
