"""`slipway runbooks`: generate (or check) the runbooks, handoff guide and alert rules."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.option(
    "--check", is_flag=True, help="Change nothing; exit 1 when the committed files are not what the catalog generates."
)
@click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Failure-mode catalog (default: runbooks/catalog.yaml).",
)
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the generated files live (default: runbooks/).",
)
def runbooks(check: bool, catalog_path: Path | None, root: Path | None) -> None:
    """Generate runbook pages, their index, the handoff guide and the alert rules from the catalog.

    \b
    Writes runbooks/<component>/<Alert>.md, runbooks/README.md, runbooks/HANDOFF.md,
    runbooks/alerts/slipway.rules.yaml (deployed as a PrometheusRule) and
    runbooks/alerts/slipway.rules.test.yaml (promtool unit tests); removes pages of failure
    modes that left the catalog.

    \b
    Examples:
      slipway runbooks            # after editing runbooks/catalog.yaml
      slipway runbooks --check    # in CI

    \b
    Exit codes:
      0  generated (or, with --check, up to date)
      1  --check: generated files are stale (each one is listed)
      2  unusable catalog (the key and problem are named)
    """
    from runbooks.catalog import CATALOG, load_catalog
    from runbooks.generate import RUNBOOKS, render, stale, write

    catalog = load_catalog(catalog_path or CATALOG)
    files = render(catalog)
    target = root or RUNBOOKS
    if check:
        problems = stale(files, target)
        if problems:
            for problem in problems:
                click.echo(f"slipway: {problem}", err=True)
            click.echo("slipway: run `slipway runbooks` and commit the result", err=True)
            sys.exit(1)
        click.echo(f"runbooks up to date: {len(catalog.failure_modes)} failure modes, {len(catalog.alerts)} alerts")
        return
    changed = write(files, target)
    for mode in catalog.failure_modes:
        click.echo(f"{mode.severity:<9} {mode.component}/{mode.alert}.md")
    click.echo(f"{len(catalog.failure_modes)} runbooks, {len(catalog.alerts)} alerts; {len(changed)} file(s) changed")
