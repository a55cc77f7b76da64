"""Verify an OIDC access token (JWT) and turn it into an Identity.

Checks, in order, each failure a ``TokenRejected`` (HTTP 401) with the reason: size (8 KiB at
most); three segments (a JWE or anything else is refused); an algorithm from the pinned
asymmetric list (``none`` in any spelling and every HMAC algorithm are refused); no key embedded
in or referenced by the token (``jwk``, ``jku``, ``x5u``, ``x5c``); no ``crit`` header; a known
key id from the issuer's JWKS (see ``jwks``); the signature; ``iss`` exactly the trusted issuer,
``aud`` the configured audience, ``exp``, ``iat`` and ``sub`` present, ``exp``/``nbf``/``iat`` within
a small leeway; and an access token, not an ID or refresh token. Roles come from a configurable
claim path (``roles``, ``groups``, ``realm_access.roles``, ``resource_access.<client>.roles``) mapped to
the kit's roles.

Usage::

    verifier = TokenVerifier(Trust(issuer="https://idp/realms/ml", jwks_url="https://idp/.../certs"))
    identity = verifier.verify(token)
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from slipway.errors import SlipwayError
from slipway.identity.jwks import JwksCache
from slipway.identity.roles import ROLES, Identity

MAX_TOKEN_BYTES = 8192
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
KEY_IN_TOKEN = ("jwk", "jku", "x5u", "x5c")
KID = re.compile(r"[A-Za-z0-9._~+/=-]{1,128}")
ACCESS_TOKEN_TYPES = ("bearer", "at+jwt", "application/at+jwt")
HEADER_TYPES = ("jwt", "at+jwt", "application/at+jwt")


class TokenRejected(SlipwayError):
    """No valid access token (HTTP 401)."""

    exit_code = 2


@dataclass(frozen=True)
class Trust:
    """Whom the server believes: one issuer, its key set, the audience tokens must name."""

    issuer: str
    jwks_url: str
    audience: str = "slipway"
    algorithms: tuple[str, ...] = ALGORITHMS
    role_claim: str = "roles"
    role_map: Mapping[str, Sequence[str]] = field(default_factory=dict)
    leeway: float = 30.0
    jwks_max_age: float = 300.0
    jwks_cool_down: float = 30.0

    def __post_init__(self) -> None:
        weak = [a for a in self.algorithms if a not in ALGORITHMS]
        if weak:
            raise ValueError(f"only asymmetric algorithms are accepted, not {weak}")
        unknown = [r for r in self.role_map if r not in ROLES]
        if unknown:
            raise ValueError(f"role_map names {unknown}, not roles of the kit ({', '.join(ROLES)})")


class TokenVerifier:
    """Verifies tokens; a token already verified is remembered until it expires, but never longer
    than the key set is trusted without a refresh (``jwks_max_age``), so a rotated-out key stops
    working within the same bound as without the cache."""

    CACHE_SIZE = 4096

    def __init__(self, trust: Trust, keys: JwksCache | None = None) -> None:
        self.trust = trust
        self.keys = keys or JwksCache(trust.jwks_url, max_age=trust.jwks_max_age, cool_down=trust.jwks_cool_down)
        self._verified: OrderedDict[bytes, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Identity:
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = time.time()
        with self._lock:
            remembered = self._verified.get(digest)
            if remembered is not None and remembered[0] > now:
                return remembered[1]
        identity, expires = self._verify(token)
        until = min(expires, now + self.trust.jwks_max_age)
        if until > now:
            with self._lock:
                self._verified[digest] = (until, identity)
                while len(self._verified) > self.CACHE_SIZE:
                    self._verified.popitem(last=False)
        return identity

    def _verify(self, token: str) -> tuple[Identity, float]:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected(f"token larger than {MAX_TOKEN_BYTES} bytes")
        if token.count(".") != 2:
            raise TokenRejected("not a signed JWT (encrypted and other token forms are refused)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("the token's header cannot be read") from None
        algorithm = self._algorithm(header)
        claims = self._claims(token, header, algorithm)
        identity = Identity(
            issuer=claims["iss"],
            subject=claims["sub"],
            name=str(claims.get("preferred_username") or claims.get("name") or claims["sub"]),
            roles=frozenset(self.roles(claims)),
            token_id=str(claims.get("jti") or ""),
        )
        return identity, float(claims["exp"])

    def _algorithm(self, header: dict[str, Any]) -> str:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.trust.algorithms:
            raise TokenRejected(f"algorithm {algorithm!r} is not accepted (only {', '.join(self.trust.algorithms)})")
        embedded = [name for name in KEY_IN_TOKEN if name in header]
        if embedded:
            raise TokenRejected(f"keys carried or referenced by a token ({', '.join(embedded)}) are never used")
        if "crit" in header:
            raise TokenRejected("the token has critical header extensions this server does not understand")
        kind = header.get("typ")
        if kind is not None and str(kind).lower() not in HEADER_TYPES:
            raise TokenRejected(f"token type {kind!r} is not a JWT access token")
        return algorithm

    def _claims(self, token: str, header: dict[str, Any], algorithm: str) -> dict[str, Any]:
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID.fullmatch(kid):
            raise TokenRejected("the token names no usable key id")
        key = self.keys.key(kid)
        if key is None:
            raise TokenRejected("the token is signed with a key the issuer does not publish")
        declared = key._jwk_data.get("alg")  # a key that states its algorithm is used for that one only
        if key.key_type != KEY_TYPES[algorithm[:2]] or declared not in (None, algorithm):
            raise TokenRejected(f"key {kid} is not a key for {algorithm}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.trust.audience,
                issuer=self.trust.issuer,
                leeway=self.trust.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("the token is not valid yet") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(f"invalid token: {exc}") from None
        if claims.get("iss") != self.trust.issuer:  # exact, whatever the library's matching rules
            raise TokenRejected("the token's issuer is not the trusted issuer")
        if not isinstance(claims.get("sub"), str) or not claims["sub"].strip():
            raise TokenRejected("the token names no subject")
        kind = claims.get("typ")
        if (kind is not None and str(kind).lower() not in ACCESS_TOKEN_TYPES) or (kind is None and "nonce" in claims):
            raise TokenRejected("an access token is required (this is an ID or refresh token)")
        return claims

    def roles(self, claims: Mapping[str, Any]) -> set[str]:
        """The kit roles the token's role claim(s) grant (comma-separated claim paths)."""
        values: set[str] = set()
        for path in self.trust.role_claim.split(","):
            node: Any = claims
            for part in path.strip().split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            if isinstance(node, str):
                values.update(node.split())
            elif isinstance(node, list):
                values.update(v for v in node if isinstance(v, str))
        mapping = {role: set(self.trust.role_map.get(role, (role,))) for role in ROLES}
        return {role for role, granted_by in mapping.items() if granted_by & values}
