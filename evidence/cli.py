"""`slipway evidence --stack NAME --out DIR` and `slipway evidence verify DIR`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from slipway.output import emit

FORMAT = click.option("--format", "output_format", type=click.Choice(["auto", "table", "json"]), default="auto",
                      show_default=True, help="auto = lines on a terminal, JSON otherwise.")  # fmt: skip


def _show(summary: dict[str, Any], lines: list[str], output_format: str) -> None:
    if output_format == "table":
        click.echo("\n".join(lines))
    elif output_format == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        emit(summary, lines)


def _lines(summary: dict[str, Any], where: str) -> list[str]:
    return [
        f"evidence for stack {summary['stack']} in {where} ({summary['created']})",
        f"  controls: {summary['satisfied']} satisfied, {summary['not_satisfied']} not satisfied, "
        f"{summary['not_assessed']} not assessed",
        f"  POA&M: {summary['open_items']} open items, {summary['exemptions']} exemptions",
    ]


@click.group(invoke_without_command=True)
@click.option("--stack", default=None, help="The stack (Pulumi.<stack>.yaml) the evidence is for.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The folder to write (replaced only if it is an evidence folder).",
)
@click.option(
    "--drills",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Drill records (`slipway drill run --json`) to include.",
)
@click.option(
    "--exemptions",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The exemptions file CI passes to `slipway gate --exemptions`.",
)
@click.option(
    "--image",
    default=None,
    metavar="REF",
    help="The model-server image to describe in an SBOM (default: the stack's pinned image, if built here).",
)
@FORMAT
@click.pass_context
def evidence(
    ctx: click.Context,
    stack: str | None,
    out: Path | None,
    drills: Path | None,
    exemptions: Path | None,
    image: str | None,
    output_format: str,
) -> None:
    """Evidence for auditors: OSCAL component definition, SSP, assessment plan and results, POA&M,
    a CycloneDX SBOM, all hashed in an in-toto statement signed with the kit's key.

    \b
    Examples:
      slipway evidence --stack prod --out build/evidence --drills build/reports/drills.json
      slipway evidence --stack dev --out build/evidence --image localhost/slipway/classifier@sha256:...
      slipway evidence verify build/evidence

    \b
    Exit codes:
      0  written (or verified)   1  tampered or invalid   2  unusable input (no stack, no key)
    """
    if ctx.invoked_subcommand is not None:
        return
    from evidence.package import write_package
    from infra.render import find_project_dir
    from slipway.errors import UsageError

    if not stack or out is None:
        raise UsageError("give --stack and --out (or `slipway evidence verify DIR`)")
    summary = write_package(
        stack, out, find_project_dir(Path.cwd()), drills=drills, exemptions_file=exemptions, image=image
    )
    _show(summary, _lines(summary, str(out)), output_format)


@evidence.command("verify")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The key the statement must be signed with (default: the kit's, `slipway keys show`).",
)
@FORMAT
def evidence_verify(folder: Path, public_key: Path | None, output_format: str) -> None:
    """Check the signature, every file's hash and the file list, and the OSCAL documents' schema,
    references, catalog ids and time zones; any change fails."""
    from evidence.package import verify_package
    from slipway.signing import KeyStore

    summary = verify_package(folder, public_key or KeyStore.default().public_key_path)
    lines = [*_lines(summary, str(folder)), f"  verified: {summary['files']} files, signed by {summary['signed_by']}"]
    _show(summary, lines, output_format)
