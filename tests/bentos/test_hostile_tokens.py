"""Hostile tokens against a real `bentoml serve` that trusts the kit's dev issuer on loopback:
each is refused with 401 or 403, and nothing is read, decided or written because of it."""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from slipway.identity.dev_issuer import DevIssuer
from tests.bentos.conftest import Trained, record
from tests.bentos.server import Server, running
from tests.conftest import BENTOML_HOME

pytestmark = pytest.mark.slow


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(_b64(json.dumps(part).encode()) for part in (header, claims)) + "." + _b64(signature)


class Forge:
    """Tokens as an attacker (or a careless client) would make them, beside the issuer's real ones."""

    def __init__(self, issuer: DevIssuer) -> None:
        self.issuer = issuer
        self.url = issuer.issuer_url()
        self.attacker = ec.generate_private_key(ec.SECP256R1())

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.UTC)
        claims: dict[str, Any] = {"iss": self.url, "aud": "slipway", "sub": "dr.a", "roles": ["reviewer"],
                                  "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 600, "jti": "j1",
                                  "typ": "Bearer"}  # fmt: skip
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def real(self, **changes: Any) -> str:
        """Signed by the issuer's own key: only the claims are wrong."""
        key = self.issuer._private_key()
        return jwt.encode(self.claims(**changes), key, algorithm="ES256", headers={"kid": self.issuer.kid()})

    def signed_by_attacker(self, headers: dict[str, Any], **changes: Any) -> str:
        return jwt.encode(self.claims(**changes), self.attacker, algorithm="ES256", headers=headers)

    def attacker_jwk(self) -> dict[str, Any]:
        return dict(json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.attacker.public_key())))


@pytest.fixture(scope="module")
def served(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Forge, Path]]:
    home = tmp_path_factory.mktemp("hostile") / "home"
    shutil.copytree(trained.keys_dir, home / "keys")
    issuer = DevIssuer(home / "auth")
    env = {**os.environ, "SLIPWAY_HOME": str(home), "BENTOML_HOME": str(BENTOML_HOME), "SLIPWAY_MODEL": trained.tag,
           "SLIPWAY_AUTH_PREDICT": "true", "SLIPWAY_AUTH_JWKS_MAX_AGE_SECONDS": "0"}  # fmt: skip
    with issuer.serving(), running(env, home / "server.log") as server:
        server.wait_until_up("/readyz")
        yield server, Forge(issuer), home


def _post(server: Server, route: str, body: dict[str, Any], token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{server.url}{route}", json=body, headers=headers, timeout=30)


def _written(home: Path) -> int:
    audit = home / "audit" / "reviews.jsonl"
    return len(audit.read_text().splitlines()) if audit.exists() else 0


HOSTILE: list[tuple[str, Any]] = [
    ("alg none", lambda f: _raw({"alg": "none", "typ": "JWT"}, f.claims())),
    ("alg None", lambda f: _raw({"alg": "None"}, f.claims())),
    ("alg NONE", lambda f: _raw({"alg": "NONE", "kid": f.issuer.kid()}, f.claims())),
    ("alg nOnE", lambda f: _raw({"alg": "nOnE"}, f.claims())),
    ("HS256 keyed with the public key", lambda f: _hs256_with_public_key(f)),
    ("signature stripped", lambda f: f.real().rsplit(".", 1)[0] + "."),
    ("signature of another token", lambda f: f.real().rsplit(".", 1)[0] + "." + f.real(sub="x").rsplit(".", 1)[1]),
    ("payload tampered", lambda f: _tampered(f.real(), sub="admin.root", roles=["admin"])),
    ("foreign key, the issuer's kid", lambda f: f.signed_by_attacker({"kid": f.issuer.kid()})),
    ("unknown kid", lambda f: f.signed_by_attacker({"kid": "not-a-published-key"})),
    ("kid path traversal", lambda f: f.signed_by_attacker({"kid": "../../../../etc/passwd"})),
    ("kid SQL injection", lambda f: f.signed_by_attacker({"kid": "' OR '1'='1"})),
    ("no kid", lambda f: f.signed_by_attacker({})),
    ("embedded jwk", lambda f: f.signed_by_attacker({"kid": "k", "jwk": f.attacker_jwk()})),
    ("jku", lambda f: f.signed_by_attacker({"kid": "k", "jku": "http://127.0.0.1:9/jwks.json"})),
    ("x5u", lambda f: f.signed_by_attacker({"kid": "k", "x5u": "http://127.0.0.1:9/cert.pem"})),
    ("wrong issuer", lambda f: f.real(iss="https://evil.example")),
    ("issuer with a suffix", lambda f: f.real(iss=f.url + ".evil.example")),
    ("issuer prefix", lambda f: f.real(iss=f.url[:-1])),
    ("wrong audience", lambda f: f.real(aud="another-api")),
    ("no audience", lambda f: f.real(aud=None)),
    ("expired", lambda f: f.real(exp=int(datetime.datetime.now(datetime.UTC).timestamp()) - 3600)),
    ("not yet valid", lambda f: f.real(nbf=int(datetime.datetime.now(datetime.UTC).timestamp()) + 3600)),
    ("no exp", lambda f: f.real(exp=None)),
    ("no sub", lambda f: f.real(sub=None)),
    (
        "unknown crit",
        lambda f: jwt.encode(
            f.claims(),
            f.issuer._private_key(),
            algorithm="ES256",
            headers={"kid": f.issuer.kid(), "crit": ["exp-ext"], "exp-ext": 1},
        ),
    ),
    ("oversized", lambda f: f.real(padding="x" * 9000)),
    ("JWE", lambda f: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"),
    ("refresh token", lambda f: f.real(typ="Refresh")),
    ("ID token", lambda f: f.real(typ="ID", nonce="n")),
    ("garbage", lambda f: "not.a.token"),
]


def _hs256_with_public_key(forge: Forge) -> str:
    pem = (
        forge.issuer._private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": forge.issuer.kid()}
    signing_input = ".".join(_b64(json.dumps(part).encode()) for part in (header, forge.claims()))
    import hashlib
    import hmac

    return signing_input + "." + _b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())


def _tampered(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def test_every_hostile_token_is_refused_and_nothing_is_written(served: tuple[Server, Forge, Path]) -> None:
    server, forge, home = served
    routed = _post(server, "/predict", {"record": record(0)}, forge.issuer.mint("svc.triage", ["caller"]))
    assert routed.status_code == 200, routed.text
    review_id = routed.json()["results"][0]["review_id"]
    before = _written(home)
    routes = [
        ("/review/pending", {}),
        ("/review/item", {"review_id": review_id}),
        ("/review/claim", {"review_id": review_id}),
        ("/review/resolve", {"review_id": review_id, "label": "benign", "version": 1}),
        ("/predict", {"record": record(1)}),
    ]
    for name, make in HOSTILE:
        token = make(forge)
        for route, body in routes:
            answer = _post(server, route, body, token)
            assert answer.status_code == 401, f"{name} on {route}: {answer.status_code} {answer.text}"
            assert "Bearer" in answer.headers["www-authenticate"]
    assert _written(home) == before
    reviewer = forge.issuer.mint("dr.a", ["reviewer"])
    assert _post(server, "/review/pending", {}, reviewer).json()["pending"] == 1  # no prediction was made either


def test_roles_headers_origins_and_urls(served: tuple[Server, Forge, Path]) -> None:
    server, forge, home = served
    before = _written(home)
    empty: dict[str, Any] = {}
    no_role = forge.real(roles=None)
    assert _post(server, "/review/pending", empty, no_role).status_code == 403
    assert _post(server, "/review/pending", empty, forge.issuer.mint("svc.triage", ["caller"])).status_code == 403
    assert _post(server, "/predict", {"record": record(0)}, forge.issuer.mint("dr.a", ["reviewer"])).status_code == 403
    for spoof in ({"X-Forwarded-User": "dr.a"}, {"X-Auth-Request-User": "admin"}, {"Remote-User": "dr.a"},
                  {"X-Forwarded-Email": "dr.a@example.org"}):  # fmt: skip
        assert _post(server, "/review/pending", empty, None, **spoof).status_code == 401
    reviewer = forge.issuer.mint("dr.a", ["reviewer"])
    assert _post(server, "/review/pending", empty, reviewer, Origin="https://evil.example").status_code == 403
    assert _post(server, "/review/pending", empty, reviewer, Origin="null").status_code == 403
    assert _post(server, "/review/pending", empty, reviewer, **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    in_url = httpx.post(f"{server.url}/review/pending?access_token={reviewer}", json={}, timeout=30)
    assert in_url.status_code == 401 and "URL" in in_url.json()["error"]
    assert _post(server, "/review/pending", empty, None, Authorization=f"Basic {reviewer}").status_code == 401
    assert _written(home) == before
    assert reviewer not in (home / "server.log").read_text()  # tokens never reach a log


def test_the_reviewer_is_the_tokens_subject_and_a_rotated_key_stops_verifying(
    served: tuple[Server, Forge, Path],
) -> None:
    server, forge, home = served
    caller = forge.issuer.mint("svc.triage", ["caller"])
    review_id = _post(server, "/predict", {"record": record(0), "request_id": "req-who"}, caller).json()["results"][0][
        "review_id"
    ]
    reviewer = forge.issuer.mint("dr.real", ["reviewer"], name="Dr Real")
    version = _post(server, "/review/claim", {"review_id": review_id}, reviewer).json()["version"]
    body = {"review_id": review_id, "label": "malignant", "version": version, "reviewer": "dr.someone.else"}
    resolved = _post(server, "/review/resolve", body, reviewer)
    if resolved.status_code == 200:
        assert resolved.json()["first_reviewer"] == "dr.real"  # a body field never names who decided
    else:
        assert resolved.status_code in (400, 422)  # or the field is refused outright
    decided = [json.loads(line) for line in (home / "audit" / "reviews.jsonl").read_text().splitlines()]
    assert all(d["data"].get("subject") != "dr.someone.else" for d in decided)
    old = forge.issuer.mint("dr.a", ["reviewer"])
    assert _post(server, "/review/pending", {}, old).status_code == 200
    forge.issuer.rotate()
    assert _post(server, "/review/pending", {}, old).status_code == 401  # rotated out: no longer published
    assert _post(server, "/review/pending", {}, forge.issuer.mint("dr.a", ["reviewer"])).status_code == 200
