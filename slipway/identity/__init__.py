"""Verified identity: OIDC access tokens (JWT) checked against the issuer's keys, mapped to the
kit's roles. The subject of a verified token, never a request field or a proxy's header, is who
acted.

Usage::

    verifier = TokenVerifier(AuthSettings().trust())
    identity = verifier.verify(token)            # TokenRejected (401) or an Identity
    identity.require(REVIEWER, SECOND_REVIEWER)  # Forbidden (403) unless it holds one of them
"""

from slipway.identity.roles import ADMIN, AUDITOR, CALLER, REVIEWER, ROLES, SECOND_REVIEWER, Forbidden, Identity
from slipway.identity.verify import TokenRejected, TokenVerifier, Trust

__all__ = [
    "ADMIN",
    "AUDITOR",
    "CALLER",
    "REVIEWER",
    "ROLES",
    "SECOND_REVIEWER",
    "Forbidden",
    "Identity",
    "TokenRejected",
    "TokenVerifier",
    "Trust",
]
