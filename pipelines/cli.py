"""`slipway pipeline run|replay`: the ETL's commands."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from slipway.output import emit


@click.group()
def pipeline() -> None:
    """The resilient ETL: sources in, contract-clean Parquet out, every row accounted for."""


@pipeline.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: the config's `out`, else $SLIPWAY_HOME/pipeline).",
)
def pipeline_run(config_path: Path, out: Path | None) -> None:
    """Run every source through the data contract; print where every row went.

    \b
    Examples:
      slipway pipeline run --config pipelines/samples/pipeline.yaml --out build/pipeline

    \b
    Exit codes:
      0  every source read
      2  unusable input (config, keys)
      3  a source is down and marked stale (the others were processed; the next run catches up)
      4  a source failed: it answered but the answer is unusable, e.g. HTTP 404 or a bad query
         (needs a person; the others were processed)
    """
    from pipelines.config import load_config
    from pipelines.run import run_pipeline

    config = load_config(config_path)
    with _pipeline_progress() as progress:
        report = run_pipeline(config, out, progress)
    _pipeline_summary(report)


@pipeline.command("replay")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
def pipeline_replay(config_path: Path, out: Path | None) -> None:
    """Re-apply the data contract to quarantined rows (after the contract was fixed).

    Rows that now pass join the data (deduplicated as usual); the rest stay quarantined.

    \b
    Examples:
      slipway pipeline replay --config pipelines/samples/pipeline.yaml --out build/pipeline

    \b
    Exit codes:
      0  replayed (rows that still break the contract stay quarantined)
      2  unusable input (config, keys)
    """
    from pipelines.config import load_config
    from pipelines.run import replay_quarantine

    _pipeline_summary(replay_quarantine(load_config(config_path), out))


@contextlib.contextmanager
def _pipeline_progress() -> Iterator[Callable[[str, str], None] | None]:
    """A live progress line on a terminal (stderr, so piped output stays clean); nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("reading {task.description} (unit {task.completed})"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=None)

        def advance(source: str, unit: str) -> None:
            bar.update(task, advance=1, description=f"{source}: {unit}")

        yield advance


def _pipeline_summary(report: dict[str, Any]) -> None:
    lines = [f"run {report['run_id']} -> {report['out']}"]
    for name, source in [*report["sources"].items(), ("TOTAL", report["totals"])]:
        counts = (
            f"in {source['rows_in']:>7}  out {source['rows_out']:>7}  quarantined {source['quarantined']:>6}"
            f"  duplicates {source['duplicates']:>6}"
        )
        error = f"  ({source['error']})" if source.get("error") else ""
        lines.append(f"  {name:<14} {counts}  {source['status']}{error}")
    lines.append(f"  schema changes: {len(report['totals']['schema_changes'])}")
    emit(report, lines)
    sys.exit(report["exit_code"])
