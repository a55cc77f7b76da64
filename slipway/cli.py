"""The `slipway` command line.

Every command prints user mistakes as one line (``slipway: error: ...``) and exits with a documented
code; ``--debug`` shows the traceback. Output is a table on a terminal and JSON otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from slipway.errors import SlipwayError

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")  # nothing phones home


class SlipwayGroup(click.Group):
    """Turns SlipwayError into one clear line and its exit code."""

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


@main.command()
@click.option("--stack", required=True, help="Stack name: reads Pulumi.<stack>.yaml.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build/manifests"),
    show_default=True,
    help="Directory to (re)create with one YAML file per object.",
)
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Directory holding Pulumi.yaml (default: the current directory or a parent).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["auto", "table", "json"]),
    default="auto",
    show_default=True,
    help="auto = a table on a terminal, JSON otherwise.",
)
def render(stack: str, out_dir: Path, project_dir: Path | None, output_format: str) -> None:
    """Render the stack's Kubernetes objects offline (Pulumi mocks, no cluster, no CLI).

    Runs the very program `pulumi up` runs, validates every object against the Kubernetes schema of
    the stack's version and writes one deterministic YAML file per object.

    \b
    Examples:
      slipway render --stack dev --out build/manifests
      SLIPWAY_MODEL_REPLICAS=3 slipway render --stack prod --out /tmp/prod

    \b
    Exit codes:
      0  rendered
      1  the stack is invalid (a config value, or an object that violates the schema)
      2  unusable input (no such stack file, output directory not a render output)
    """
    from infra.render import find_project_dir, render_stack, write_manifests

    project = project_dir or find_project_dir(Path.cwd())
    objects = render_stack(project, stack)
    paths = write_manifests(objects, out_dir)
    rows = [
        {"kind": o.kind, "namespace": o.namespace or "", "name": o.name, "file": str(out_dir / p)}
        for o, p in zip(objects, paths, strict=True)
    ]
    if output_format == "table" or (output_format == "auto" and sys.stdout.isatty()):
        widths = [max(len(r[col] or "-") for r in rows) for col in ("kind", "namespace", "name")]
        for r in rows:
            cells = [(r[col] or "-").ljust(w) for col, w in zip(("kind", "namespace", "name"), widths, strict=True)]
            click.echo("  ".join([*cells, r["file"]]))
        click.echo(f"rendered {len(rows)} objects for stack {stack!r} into {out_dir}")
    else:
        click.echo(json.dumps({"stack": stack, "out": str(out_dir), "objects": rows}, indent=2))


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "sarif", "junit"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here (atomically).")
@click.option("--exemptions", type=click.Path(dir_okay=False, path_type=Path), help="Exemptions file (YAML).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Gate config: podSecurityVersion, approvedRegistries, requiredLabels, enforcement.",
)
def gate(
    paths: tuple[str, ...],
    output_format: str,
    output: Path | None,
    exemptions: Path | None,
    config_path: Path | None,
) -> None:
    """Check Kubernetes manifests against the policy rule set (PATH: file, directory or - for stdin).

    Reads multi-document YAML, JSON and List objects; directories recursively.

    \b
    Examples:
      slipway gate build/manifests
      slipway gate build/manifests --format sarif --output gate.sarif
      kubectl get deploy -A -o yaml | slipway gate - --format json
      slipway gate k8s/ --exemptions exemptions.yaml --config policies/gate.yaml

    \b
    Exit codes:
      0  no unexempted mandatory finding
      1  at least one unexempted mandatory finding
      2  unusable input (a file or document could not be read; the others are still checked)
    """
    from policies.formats import writer
    from policies.formats.text import verdict_line
    from policies.gate import run_gate

    result = run_gate(paths, config_path=config_path, exemptions_path=exemptions)
    write_report = writer(output_format)
    if output is None:
        write_report(result, sys.stdout)
    else:
        with atomic_output(output) as stream:
            write_report(result, stream)
        click.echo(f"{verdict_line(result)}; {output_format} report in {output}")
    sys.exit(result.exit_code)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[TextIO]:
    """A stream whose content replaces ``path`` only when complete: readers never see half a report."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yield stream
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@main.group()
def audit() -> None:
    """Audit trails (hash-chained, append-only) under $SLIPWAY_HOME/audit."""


@audit.command("verify")
@click.argument("name", default="exemptions")
def audit_verify(name: str) -> None:
    """Verify the hash chain of an audit trail (default: exemptions).

    \b
    Examples:
      slipway audit verify exemptions

    \b
    Exit codes:
      0  the chain is intact
      1  a record was altered, removed or moved (the message names the line)
    """
    from slipway.audit import AuditTrail

    trail = AuditTrail.for_name(name)
    count = trail.verify()
    click.echo(f"{trail.path}: {count} record(s), chain intact")
