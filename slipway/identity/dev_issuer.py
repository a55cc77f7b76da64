"""The local OIDC issuer of the embedded default (`slipway auth dev-issuer`, `slipway auth token`).

A small HTTP server on 127.0.0.1 with a discovery document (``/.well-known/openid-configuration``)
and the public key set (``/jwks.json``); its ES256 key lives under ``$SLIPWAY_HOME/auth/`` (0600)
and its address in ``$SLIPWAY_HOME/auth/issuer.json``, which a model server with the same home
trusts by default. A server fetches the key set over HTTP exactly as it would Keycloak's. It is for
local rehearsals and tests: a real deployment trusts the organisation's issuer.

Usage::

    issuer = DevIssuer(Path(".slipway/auth"))
    with issuer.serving(port=0) as url:
        token = issuer.mint("dr.a", ["reviewer"])
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from slipway.errors import UsageError
from slipway.identity.settings import ISSUER_FILE

KEY_FILE = "dev-issuer.key"
AUDIENCE = "slipway"


class DevIssuer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # -- keys ------------------------------------------------------------------------------------------
    def _key_path(self) -> Path:
        return self.directory / KEY_FILE

    def ensure_key(self) -> None:
        if not self._key_path().exists():
            self.rotate()

    def rotate(self) -> str:
        """A new signing key; the old one is no longer published, so its tokens stop verifying."""
        self.directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        temporary = self._key_path().with_suffix(".tmp")
        temporary.write_bytes(b"")
        temporary.chmod(0o600)
        temporary.write_bytes(pem)
        temporary.replace(self._key_path())
        return self.kid()

    def _private_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self._key_path().read_bytes(), password=None)
        except OSError:
            raise UsageError(f"no dev issuer key in {self.directory}: run `slipway auth dev-issuer`") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise UsageError(f"{self._key_path()} is not an EC key")
        return key

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._private_key().public_key()))
        return {**jwk, "kid": self.kid(), "use": "sig", "alg": "ES256"}

    def kid(self) -> str:
        """RFC 7638 thumbprint of the public key: it changes with the key, so rotation is visible."""
        import base64
        import hashlib

        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self._private_key().public_key()))
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()[:22]

    # -- tokens ----------------------------------------------------------------------------------------
    def issuer_url(self) -> str:
        try:
            return str(json.loads((self.directory / ISSUER_FILE).read_text(encoding="utf-8"))["issuer"])
        except (OSError, ValueError, KeyError):
            raise UsageError(f"no dev issuer has run under {self.directory}: start `slipway auth dev-issuer`") from None

    def mint(
        self,
        subject: str,
        roles: Sequence[str],
        *,
        name: str | None = None,
        ttl: float = 3600.0,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = datetime.datetime.now(datetime.UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer_url(),
            "aud": AUDIENCE,
            "sub": subject,
            "preferred_username": name or subject,
            "roles": list(roles),
            "iat": now,
            "exp": now + datetime.timedelta(seconds=ttl),
            "jti": uuid.uuid4().hex,
            "typ": "Bearer",
            **(extra or {}),
        }
        return jwt.encode(claims, self._private_key(), algorithm="ES256", headers={"kid": self.kid(), "typ": "at+jwt"})

    # -- the HTTP endpoint -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def serving(self, port: int = 0) -> Iterator[str]:
        """Serve discovery + JWKS on 127.0.0.1:``port`` (0: a free one) and record the address."""
        self.ensure_key()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            base = ""  # set once the server has its port

            def do_GET(self) -> None:
                base = self.base
                if self.path == "/.well-known/openid-configuration":
                    body: dict[str, Any] = {"issuer": base, "jwks_uri": f"{base}/jwks.json",
                                            "id_token_signing_alg_values_supported": ["ES256"]}  # fmt: skip
                elif self.path == "/jwks.json":
                    body = {"keys": [issuer.public_jwk()]}  # read per request: a rotation shows at once
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        Handler.base = url
        record = {"issuer": url, "jwks_uri": f"{url}/jwks.json", "audience": AUDIENCE}
        (self.directory / ISSUER_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
        thread = threading.Thread(target=server.serve_forever, name="dev-issuer", daemon=True)
        thread.start()
        try:
            yield url
        finally:
            server.shutdown()
            server.server_close()
