"""Token verification details: the JWKS cache's cool-down, role claims of common issuers, settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slipway.identity import ADMIN, REVIEWER, SECOND_REVIEWER, Forbidden, Identity, TokenRejected, TokenVerifier, Trust
from slipway.identity.dev_issuer import DevIssuer
from slipway.identity.jwks import JwksCache, KeysUnavailable
from slipway.identity.settings import AuthSettings, dev_issuer_dir
from tests.conftest import LocalIssuer


def test_unknown_key_ids_cannot_make_the_server_hammer_the_issuer(local_issuer: LocalIssuer) -> None:
    keys = JwksCache(f"{local_issuer.url}/jwks.json", max_age=300, cool_down=3600)
    assert keys.key(local_issuer.issuer.kid()) is not None and keys.fetches == 1
    for n in range(50):
        assert keys.key(f"made-up-{n}") is None
    assert keys.fetches == 1  # within the cool-down of the last fetch an unknown kid fetches nothing


def test_a_rotated_key_is_found_after_the_cool_down(local_issuer: LocalIssuer) -> None:
    keys = JwksCache(f"{local_issuer.url}/jwks.json", max_age=300, cool_down=0)
    old = local_issuer.issuer.kid()
    assert keys.key(old) is not None
    new = local_issuer.issuer.rotate()
    assert keys.key(new) is not None and keys.key(old) is None


def test_no_reachable_issuer_is_keys_unavailable_not_a_crash() -> None:
    with pytest.raises(KeysUnavailable, match="cannot fetch"):
        JwksCache("http://127.0.0.1:9/jwks.json", timeout=1).key("k")


def test_the_dev_issuer_is_trusted_by_default_with_the_same_home(local_issuer: LocalIssuer) -> None:
    trust = AuthSettings().trust()
    assert trust is not None and trust.issuer == local_issuer.url and trust.audience == "slipway"
    identity = TokenVerifier(trust).verify(local_issuer.mint("dr.a", "reviewer", name="Dr A"))
    assert (identity.subject, identity.name, identity.roles) == ("dr.a", "Dr A", frozenset({"reviewer"}))
    assert identity.issuer == local_issuer.url and identity.token_id


def test_nothing_is_trusted_without_an_issuer(tmp_path: Path) -> None:
    assert AuthSettings().trust() is None


@pytest.mark.parametrize(
    ("role_claim", "role_map", "claims", "roles"),
    [
        ("roles", {}, {"roles": ["reviewer", "something-else"]}, {REVIEWER}),
        ("realm_access.roles", {}, {"realm_access": {"roles": ["admin", "offline_access"]}}, {ADMIN}),  # Keycloak
        (
            "resource_access.slipway.roles",
            {},
            {"resource_access": {"slipway": {"roles": ["second-reviewer"]}}},
            {SECOND_REVIEWER},
        ),  # Keycloak client roles
        ("groups", {"reviewer": ["/ml/reviewers"]}, {"groups": ["/ml/reviewers", "/staff"]}, {REVIEWER}),  # Dex
        ("roles", {"reviewer": ["Review.Decide"]}, {"roles": ["Review.Decide"]}, {REVIEWER}),  # Entra app roles
        (
            "groups,realm_access.roles",
            {},
            {"groups": ["auditor"], "realm_access": {"roles": ["admin"]}},
            {"auditor", ADMIN},
        ),
        ("scope", {}, {"scope": "openid caller"}, {"caller"}),
        ("roles", {}, {"roles": "reviewer"}, {REVIEWER}),
        ("realm_access.roles", {}, {"realm_access": ["not", "a", "mapping"]}, set()),
    ],
)
def test_roles_from_the_claims_of_common_issuers(
    role_claim: str, role_map: dict[str, list[str]], claims: dict[str, object], roles: set[str]
) -> None:
    verifier = TokenVerifier(Trust("https://idp", "https://idp/jwks", role_claim=role_claim, role_map=role_map))
    assert verifier.roles(claims) == roles


def test_trust_refuses_symmetric_algorithms_and_unknown_roles() -> None:
    with pytest.raises(ValueError, match="only asymmetric"):
        Trust("https://idp", "https://idp/jwks", algorithms=("RS256", "HS256"))
    with pytest.raises(ValueError, match="not roles of the kit"):
        Trust("https://idp", "https://idp/jwks", role_map={"superuser": ["x"]})


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_AUTH_ISSUER", "https://keycloak.example/realms/ml")
    monkeypatch.setenv("SLIPWAY_AUTH_JWKS_URL", "https://keycloak.example/realms/ml/protocol/openid-connect/certs")
    monkeypatch.setenv("SLIPWAY_AUTH_ROLE_CLAIM", "realm_access.roles")
    monkeypatch.setenv("SLIPWAY_AUTH_ROLE_MAP", json.dumps({"reviewer": ["ml-reviewer"]}))
    trust = AuthSettings().trust()
    assert (
        trust is not None and trust.role_claim == "realm_access.roles" and trust.role_map["reviewer"] == ["ml-reviewer"]
    )
    monkeypatch.delenv("SLIPWAY_AUTH_JWKS_URL")
    with pytest.raises(ValueError, match="SLIPWAY_AUTH_JWKS_URL is required"):
        AuthSettings().trust()


def test_roles_are_required_and_audit_fields_name_the_subject() -> None:
    identity = Identity("https://idp", "dr.a", "Dr A", frozenset({REVIEWER}), "jti-1")
    identity.require(REVIEWER, ADMIN)
    with pytest.raises(Forbidden, match=r"dr\.a needs one of the roles admin"):
        identity.require(ADMIN)
    assert identity.audit_fields() == {"issuer": "https://idp", "subject": "dr.a", "name": "Dr A", "token_id": "jti-1"}


def test_the_dev_issuer_keeps_its_key_private_and_refuses_tokens_before_it_ran(tmp_path: Path) -> None:
    issuer = DevIssuer(dev_issuer_dir())
    issuer.ensure_key()
    assert (dev_issuer_dir() / "dev-issuer.key").stat().st_mode & 0o077 == 0
    with pytest.raises(Exception, match="no dev issuer has run"):
        issuer.mint("dr.a", ["reviewer"])


def test_an_expired_token_is_refused_with_the_reason(local_issuer: LocalIssuer) -> None:
    trust = AuthSettings().trust()
    assert trust is not None
    with pytest.raises(TokenRejected, match="expired"):
        TokenVerifier(Trust(**{**trust.__dict__, "leeway": 0})).verify(local_issuer.mint("dr.a", "reviewer", ttl=-60))


def test_a_verified_token_is_remembered_no_longer_than_the_key_set_is_trusted(local_issuer: LocalIssuer) -> None:
    trust = AuthSettings().trust()
    assert trust is not None
    remembering = TokenVerifier(trust)
    token = local_issuer.mint("dr.a", "reviewer")
    first = remembering.verify(token)
    assert remembering.verify(token) is first  # the second check is a lookup
    forgetting = TokenVerifier(Trust(**{**trust.__dict__, "jwks_max_age": 0}))
    assert forgetting.verify(token) is not forgetting.verify(token)
    local_issuer.issuer.rotate()
    with pytest.raises(TokenRejected, match="does not publish"):
        forgetting.verify(token)  # nothing remembered it past the key set's refresh
