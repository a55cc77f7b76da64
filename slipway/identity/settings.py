"""Whom the server and the CLI trust, from ``SLIPWAY_AUTH_*`` (the Deployment sets them from the
stack's ``auth`` config) or, by default, the local dev issuer of ``$SLIPWAY_HOME``.

| variable | default | meaning |
|---|---|---|
| SLIPWAY_AUTH_ISSUER | the dev issuer's URL, if it ever ran under $SLIPWAY_HOME | the exact `iss` of accepted tokens |
| SLIPWAY_AUTH_JWKS_URL | `<issuer>/jwks.json` for the dev issuer | where the issuer publishes its keys |
| SLIPWAY_AUTH_AUDIENCE | slipway | the `aud` tokens must name |
| SLIPWAY_AUTH_ROLE_CLAIM | roles | claim path(s) holding roles: roles, groups, realm_access.roles, ... |
| SLIPWAY_AUTH_ROLE_MAP | {} | JSON: kit role → the claim values granting it, e.g. {"reviewer": ["/ml/reviewers"]} |
| SLIPWAY_AUTH_ALGORITHMS | RS*, PS*, ES*, EdDSA | the pinned signature algorithms |
| SLIPWAY_AUTH_LEEWAY_SECONDS | 30 | clock skew allowed on exp, nbf, iat |
| SLIPWAY_AUTH_PREDICT | false | also require a `caller` token on /predict |
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from slipway.audit import slipway_home
from slipway.identity.verify import ALGORITHMS, Trust

ISSUER_FILE = "issuer.json"


def dev_issuer_dir() -> Path:
    return slipway_home() / "auth"


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLIPWAY_AUTH_", extra="ignore", frozen=True)

    issuer: str | None = None
    jwks_url: str | None = None
    audience: str = "slipway"
    role_claim: str = "roles"
    role_map: dict[str, list[str]] = Field(default_factory=dict)
    algorithms: tuple[str, ...] = ALGORITHMS
    leeway_seconds: float = Field(30.0, ge=0, le=300)
    jwks_max_age_seconds: float = Field(300.0, ge=0)
    jwks_cool_down_seconds: float = Field(30.0, ge=0)
    predict: bool = False

    def trust(self) -> Trust | None:
        """The configured issuer, else the dev issuer of $SLIPWAY_HOME, else None (nobody can be verified)."""
        issuer, jwks_url = self.issuer, self.jwks_url
        if issuer is None:
            recorded = dev_issuer_dir() / ISSUER_FILE
            try:
                document = json.loads(recorded.read_text(encoding="utf-8"))
                issuer, jwks_url = str(document["issuer"]), str(document["jwks_uri"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        if jwks_url is None:
            raise ValueError("SLIPWAY_AUTH_JWKS_URL is required with SLIPWAY_AUTH_ISSUER")
        return Trust(
            issuer=issuer,
            jwks_url=jwks_url,
            audience=self.audience,
            algorithms=self.algorithms,
            role_claim=self.role_claim,
            role_map=self.role_map,
            leeway=self.leeway_seconds,
            jwks_max_age=self.jwks_max_age_seconds,
            jwks_cool_down=self.jwks_cool_down_seconds,
        )
