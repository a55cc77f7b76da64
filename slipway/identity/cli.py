"""`slipway auth dev-issuer`, `slipway auth token`: the local identity provider of the embedded default."""

from __future__ import annotations

import contextlib
import signal
import threading

import click

from slipway.identity.roles import ROLES


@click.group()
def auth() -> None:
    """Identity: a local OIDC issuer for rehearsals, and tokens from it."""


@auth.command("dev-issuer")
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1 (0: a free one).")
def dev_issuer(port: int) -> None:
    """Serve a local issuer's discovery document and JWKS on 127.0.0.1 until stopped.

    Its key and address go under $SLIPWAY_HOME/auth; a model server with the same $SLIPWAY_HOME
    trusts it. For rehearsals only: a deployment trusts the organisation's issuer (Keycloak, Dex,
    Entra ID) through SLIPWAY_AUTH_ISSUER and SLIPWAY_AUTH_JWKS_URL.

    \b
    Examples:
      slipway auth dev-issuer --port 8900 &
      slipway auth token --subject dr.a --role reviewer
    """
    from slipway.identity.dev_issuer import DevIssuer
    from slipway.identity.settings import dev_issuer_dir

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with DevIssuer(dev_issuer_dir()).serving(port) as url:
        click.echo(f"dev issuer {url} (JWKS {url}/jwks.json); stop with Ctrl-C", err=True)
        click.echo(url)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


@auth.command("token")
@click.option("--subject", required=True, help="Who the token is for (its `sub`).")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), required=True, help="A kit role (repeat).")
@click.option("--name", default=None, help="Display name (default: the subject).")
@click.option("--ttl", type=float, default=3600.0, show_default=True, help="Seconds until it expires.")
def token(subject: str, roles: tuple[str, ...], name: str | None, ttl: float) -> None:
    """Mint an access token from the local dev issuer; the token is the last line printed.

    \b
    Examples:
      TOKEN=$(slipway auth token --subject dr.a --role reviewer | tail -1)
      curl -H "Authorization: Bearer $TOKEN" -d '{}' localhost:3000/review/pending
    """
    from slipway.identity.dev_issuer import DevIssuer
    from slipway.identity.settings import dev_issuer_dir

    click.echo(DevIssuer(dev_issuer_dir()).mint(subject, roles, name=name, ttl=ttl))


@auth.command("rotate")
def rotate() -> None:
    """Give the dev issuer a new key; tokens signed with the old one stop verifying."""
    from slipway.identity.dev_issuer import DevIssuer
    from slipway.identity.settings import dev_issuer_dir

    click.echo(f"new key id {DevIssuer(dev_issuer_dir()).rotate()}")
