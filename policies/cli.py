"""`slipway gate`: the policy gate over manifests (the policies package's command)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from slipway.output import atomic_output


@click.command()
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
