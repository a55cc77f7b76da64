"""`slipway drill run`: rehearse failure modes end to end (see ``runbooks.drills.drill``)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from slipway.output import emit


@click.group()
def drill() -> None:
    """Drills: inject a failure for real, see its alert arrive through Prometheus and Alertmanager,
    apply the runbook's mitigation, see it resolve."""


@drill.command("run")
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Every drill there is.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None, help="JUnit XML for CI.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="One JSON record per drill.")  # fmt: skip
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("build/drills"),
              show_default=True, help="Where each drill keeps its processes' state and logs.")  # fmt: skip
@click.option("--jobs", type=click.IntRange(1, 8), default=1, show_default=True,
              help="Drills run at once (each has its own processes and ports).")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(["auto", "table", "json"]), default="auto",
              show_default=True, help="auto = a table on a terminal, JSON otherwise.")  # fmt: skip
def drill_run(
    names: tuple[str, ...],
    run_all: bool,
    junit: Path | None,
    json_out: Path | None,
    workdir: Path,
    jobs: int,
    output_format: str,
) -> None:
    """Run the named drills (or --all), each on 127.0.0.1 only, each bounded in time.

    \b
    Examples:
      slipway drill run kill-model-server
      slipway drill run --all --jobs 3 --junit build/reports/drills.xml --json build/reports/drills.json

    \b
    Exit codes:
      0  every drill passed   1  a drill failed (its record says where)   2  unknown drill or no drill named
    """
    from runbooks.drills.drill import run_drill
    from runbooks.drills.library import DRILLS
    from runbooks.drills.report import junit_xml
    from slipway.errors import UsageError
    from slipway.output import atomic_output

    if run_all == bool(names):
        raise UsageError("name the drills to run, or give --all")
    unknown = sorted(set(names) - set(DRILLS))
    if unknown:
        raise UsageError(f"no drill {', '.join(unknown)}; there are: {', '.join(sorted(DRILLS))}")
    chosen = sorted(DRILLS) if run_all else list(names)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda name: run_drill(DRILLS[name], workdir / name), chosen))
    records = [r.record() for r in results]
    if json_out:
        with atomic_output(json_out) as stream:
            stream.write(json.dumps(records, indent=2) + "\n")
    if junit:
        with atomic_output(junit) as stream:
            stream.write(junit_xml(results))
    lines = [f"{'drill':<29} {'alert':<26} {'result':<6} {'fired':>7} {'resolved':>9} {'took':>7}"]
    for r in results:
        fired = "-" if r.fired_after is None else f"{r.fired_after:.1f} s"
        resolved = "-" if r.resolved_after is None else f"{r.resolved_after:.1f} s"
        lines.append(f"{r.drill:<29} {r.alert:<26} {'PASS' if r.passed else 'FAIL':<6} {fired:>7} {resolved:>9} "
                     f"{r.seconds:>5.1f} s" + (f"\n    {r.error}" if r.error else ""))  # fmt: skip
    if output_format == "table":
        click.echo("\n".join(lines))
    elif output_format == "json":
        click.echo(json.dumps({"drills": records}, indent=2))
    else:
        emit({"drills": records}, lines)
    if not all(r.passed for r in results):
        raise SystemExit(1)
