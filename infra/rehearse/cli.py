"""``slipway rehearse``: render a stack (or take rendered manifests) and run every workload in podman."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from slipway.errors import UsageError

if TYPE_CHECKING:  # the command imports its machinery lazily: `slipway --help` stays fast
    from images.engine import Engine

DEFAULT_SEED = "slipway-state:incoming=pipelines/samples/incoming"


def _seed(value: str) -> tuple[str, str, Path]:
    claim, _, rest = value.partition(":")
    relative, _, source = rest.partition("=")
    if not (claim and relative and source):
        raise UsageError(f"--seed {value!r}: use CLAIM:PATH=LOCAL_DIR (e.g. {DEFAULT_SEED})")
    path = Path(source)
    if not path.is_dir():
        raise UsageError(f"--seed {value!r}: {source} is not a directory")
    return claim, relative.strip("/"), path


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _render(stack: str, image: str | None, engine: Engine, out: Path) -> None:
    """Render the stack into ``out``, with the image's model pins when --image names one."""
    from images.build import ModelFacts
    from infra.render import find_project_dir, render_stack, write_manifests

    overrides: dict[str, str] = {}
    if image:
        facts = ModelFacts.from_labels(engine.labels(image))
        overrides = {
            "SLIPWAY_MODEL_ARTIFACT_DIGEST": facts.digest,
            "SLIPWAY_MODEL_SIGNATURE": facts.signature,
            "SLIPWAY_MODEL_PUBLIC_KEY": facts.public_key_pem,
        }
    project = find_project_dir(Path.cwd())
    with _environment(overrides):
        objects = render_stack(project, stack)
    write_manifests(objects, out)


def _table(summary: dict[str, object]) -> None:
    workloads = summary["workloads"]
    assert isinstance(workloads, list)
    for w in workloads:
        mark = "PASS" if w["ok"] else "FAIL"
        click.echo(f"{mark}  {w['workload']}  ({w['seconds']} s)")
        click.echo(f"      started: {'yes' if w['started'] else 'no'}")
        if w["ready_after_seconds"] is not None:
            click.echo(f"      ready after: {w['ready_after_seconds']} s")
        for kind, note in w["probes"].items():
            click.echo(f"      {kind} probe: {note}")
        if w["prediction"]:
            click.echo(f"      prediction: {w['prediction']}")
        if w["output"]:
            click.echo(f"      last output: {w['output'][:160]}")
        if w["exit_code"] is not None:
            click.echo(f"      exit code: {w['exit_code']}")
        if w["stopped_cleanly"] is not None:
            click.echo(f"      stopped cleanly: {'yes' if w['stopped_cleanly'] else 'no'}")
        for problem in w["problems"]:
            click.echo(f"      problem: {problem}")
        for line in w["log_tail"]:
            click.echo(f"      | {line[:200]}")
    click.echo(f"secret stand-ins (fresh, never real): {', '.join(summary['secret_standins']) or 'none'}")  # type: ignore[arg-type]
    click.echo(f"not shown by a rehearsal: {summary['not_shown']}")


@click.command("rehearse")
@click.option("--stack", help="Render this stack and rehearse it.")
@click.option(
    "--manifests",
    "manifests_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Rehearse these rendered manifests instead of rendering a stack.",
)
@click.option(
    "--image",
    help="Run this local image for the kit's workloads (server and jobs); with --stack its model pins are used.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where --stack renders to (default: build/rehearsal/<stack>).",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    metavar="CLAIM:PATH=DIR",
    help=f"Copy DIR into a claim before the jobs run (default: {DEFAULT_SEED}; 'none' for nothing).",
)
@click.option("--ready-timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for ready.")
@click.option("--format", "output_format", type=click.Choice(["auto", "table", "json"]), default="auto")
def rehearse_command(
    stack: str | None,
    manifests_dir: Path | None,
    image: str | None,
    out: Path | None,
    seeds: tuple[str, ...],
    ready_timeout: float,
    output_format: str,
) -> None:
    """Run every rendered workload's container in podman exactly as the kubelet would run it.

    The model server starts under its security context (read-only root, dropped capabilities,
    its uid), with its volumes (emptyDir as size-limited tmpfs, ConfigMaps and stand-in Secrets as
    read-only files, claims as shared podman volumes) and env; its startup, readiness and liveness
    probes run as declared; a real prediction goes through the published 127.0.0.1 port and a
    high-stakes case must land in the review queue; then SIGTERM and the grace period. Each job
    runs to completion and must exit 0.

    \b
    Examples:
      slipway rehearse --stack dev
      slipway rehearse --stack dev --image "$(slipway image build)"
      slipway rehearse --manifests build/manifests --image localhost/slipway/classifier:abc
    Exit codes: 0 every workload would run; 1 one would crash-loop, never be ready or fail; 2 unusable input.
    """
    from images.engine import Engine
    from infra.rehearse.manifests import Manifests
    from infra.rehearse.run import Options, rehearse

    if (stack is None) == (manifests_dir is None):
        raise UsageError("give exactly one of --stack or --manifests")
    engine = Engine.find("podman")
    if stack is not None:
        manifests_dir = out or Path("build") / "rehearsal" / stack
        _render(stack, image, engine, manifests_dir)
    assert manifests_dir is not None
    chosen = () if seeds == ("none",) else tuple(_seed(s) for s in (seeds or (DEFAULT_SEED,)))
    manifests = Manifests.read(manifests_dir)
    images = dict.fromkeys(manifests.kit_images(), image) if image else {}
    from slipway.progress import status

    with status(f"rehearsing {len(manifests.workloads)} workloads in podman"):
        result = rehearse(manifests, engine, Options(images=images, seeds=chosen, ready_timeout=ready_timeout))
    summary = result.summary()
    if output_format == "table" or (output_format == "auto" and sys.stdout.isatty()):
        _table(summary)
    else:
        click.echo(json.dumps(summary, indent=2))
    if not result.ok:
        failed = [w.workload for w in result.workloads if not w.ok]
        click.echo(f"slipway: rehearsal failed: {', '.join(failed)}", err=True)
        sys.exit(1)
