"""The `slipway` command line: assembles the commands each package owns and shares error handling.

Every command prints user mistakes as one line (``slipway: error: ...``) and exits with a documented
code; ``--debug`` shows the traceback. Output is a table on a terminal and JSON otherwise.

Commands are imported only when used (``COMMANDS`` names where each lives), so ``slipway gate``
never imports the model server, Pulumi or polars.
"""

from __future__ import annotations

import importlib
import os
import traceback
from typing import Any

import click

from slipway.errors import SlipwayError
from slipway.output import emit

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")  # nothing phones home

COMMANDS = {  # command → "module:attribute" of the package that owns it
    "render": "infra.cli:render",
    "rehearse": "infra.rehearse.cli:rehearse_command",
    "image": "images.cli:image",
    "gate": "policies.cli:gate",
    "train": "lifecycle.cli:train",
    "model": "lifecycle.cli:model",
    "evaluate": "lifecycle.evaluate_cli:evaluate_command",
    "promote": "lifecycle.promote_cli:promote",
    "rollback": "lifecycle.promote_cli:rollback_command",
    "loop": "lifecycle.loop_cli:loop",
    "serve": "bentos.cli:serve",
    "review": "bentos.cli:review",
    "drift": "bentos.cli:drift",
    "pipeline": "pipelines.cli:pipeline",
    "runbooks": "runbooks.cli:runbooks",
    "drill": "runbooks.drills.cli:drill",
    "auth": "slipway.identity.cli:auth",
    "evidence": "evidence.cli:evidence",
}


class SlipwayGroup(click.Group):
    """Turns SlipwayError into one clear line and its exit code; loads package commands on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{COMMANDS[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SlipwayError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"slipway: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=SlipwayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="slipway")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """slipway: take a machine-learning model from demo to production inside a compliance boundary."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@main.group()
def audit() -> None:
    """Audit trails (hash-chained, append-only) under $SLIPWAY_HOME/audit."""


@audit.command("verify")
@click.argument("name", default="exemptions")
def audit_verify(name: str) -> None:
    """Verify the hash chain of an audit trail (default: exemptions) and list who acted in it: the
    verified subject (and issuer) of every decision, decryption and export.

    \b
    Examples:
      slipway audit verify exemptions
      slipway audit verify reviews
      slipway audit verify promotions     # also checks each record's signature

    \b
    Exit codes:
      0  the chain is intact
      1  a record was altered, removed or moved (the message names the line)
    """
    from slipway.audit import AuditTrail

    trail: Any = AuditTrail.for_name(name)
    if name == "reviews":  # a shared review store keeps its trail in its database
        from bentos.classifier.settings import ServerSettings

        settings = ServerSettings()
        if settings.shared_review_store:
            from bentos.classifier.review_store import open_review_audit

            trail = open_review_audit(settings, settings.load_contract())
    count = trail.verify()
    actors = trail.actors()
    signed = None
    if name == "promotions":  # every promotion record is signed by the kit's key as well
        from slipway.audit import verify_signed
        from slipway.signing import KeyStore

        signed = verify_signed(trail, KeyStore.default().public_key_path)
    emit(
        {"trail": str(trail.path), "records": count, "intact": True, "actors": actors, "signed": signed},
        [f"{trail.path}: {count} record(s), chain intact" + (f", {signed} signatures valid" if signed else "")]
        + [f"  {a['event']:<16} {a['subject']} ({a['issuer']}): {a['records']}" for a in actors],
    )


@main.group()
def keys() -> None:
    """Signing keys for model artifacts and the review-queue encryption key ($SLIPWAY_HOME/keys)."""


@keys.command("generate")
def keys_generate() -> None:
    """Create the Ed25519 signing key pair and the review-queue key.

    \b
    Examples:
      slipway keys generate
    """
    from slipway.signing import KeyStore

    store = KeyStore.default()
    public = store.generate()
    emit(
        {"public_key": str(public), "fingerprint": store.fingerprint()},
        [f"created {store.private_key_path} (keep it secret) and {public}", f"fingerprint {store.fingerprint()}"],
    )


@keys.command("rotate")
def keys_rotate() -> None:
    """Retire the current signing key (its public key stays in keys/retired/) and create a new one.

    Models signed with the old key must be re-signed (retrain) or served with the retired public key.

    \b
    Examples:
      slipway keys rotate && slipway train
    """
    from slipway.signing import KeyStore

    store = KeyStore.default()
    public = store.rotate()
    emit(
        {"public_key": str(public), "fingerprint": store.fingerprint()},
        [f"rotated: new public key {public}", f"fingerprint {store.fingerprint()}"],
    )


@keys.command("show")
@click.option("--pem", is_flag=True, help="Print the public key itself (for slipway:modelPublicKey).")
def keys_show(pem: bool) -> None:
    """Show where the keys are and the public key's fingerprint (never the private key).

    \b
    Examples:
      slipway keys show
      pulumi config set slipway:modelPublicKey -- "$(slipway keys show --pem)"
    """
    from slipway.signing import KeyStore

    store = KeyStore.default()
    if pem:
        click.echo(store.public_pem(), nl=False)
        return
    emit(
        {"public_key": str(store.public_key_path), "fingerprint": store.fingerprint(), "pem": store.public_pem()},
        [f"public key {store.public_key_path}", f"fingerprint {store.fingerprint()}"],
    )
