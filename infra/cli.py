"""`slipway render`: the stack's Kubernetes objects, offline (the infra package's command)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command()
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
