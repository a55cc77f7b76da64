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
from collections.abc import Callable, Iterator
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
    _emit(
        {"trail": str(trail.path), "records": count, "intact": True}, [f"{trail.path}: {count} record(s), chain intact"]
    )


def _emit(data: dict[str, Any], human: list[str]) -> None:
    """Human lines on a terminal, JSON otherwise."""
    if sys.stdout.isatty():
        for line in human:
            click.echo(line)
    else:
        click.echo(json.dumps(data, indent=2, default=str))


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
    _emit(
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
    _emit(
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
    _emit(
        {"public_key": str(store.public_key_path), "fingerprint": store.fingerprint(), "pem": store.public_pem()},
        [f"public key {store.public_key_path}", f"fingerprint {store.fingerprint()}"],
    )


@main.command()
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the data split.")
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Labelled records (CSV/Parquet, contract columns + diagnosis); default: the bundled dataset.",
)
def train(seed: int, data: Path | None) -> None:
    """Train, calibrate, evaluate, sign and store the classifier in the BentoML model store.

    \b
    Examples:
      slipway keys generate && slipway train
      slipway train --data build/review-labels.csv

    \b
    Exit codes:
      0  trained, signed and stored
      1  the candidate failed the promotion bar (nothing stored)
      2  unusable input (no signing key, unreadable data)

    Every run writes $SLIPWAY_HOME/metrics/training.prom (outcome, held-out accuracy, last success).
    """
    from bentos.classifier.train import CandidateRejected
    from bentos.classifier.train import train as run_training
    from bentos.classifier.training_metrics import write_training_metrics
    from slipway.audit import slipway_home
    from slipway.signing import KeyStore

    metrics_file = slipway_home() / "metrics" / "training.prom"
    try:
        result = run_training(KeyStore.default(), seed=seed, data=data)
    except CandidateRejected as exc:
        write_training_metrics(metrics_file, outcome="rejected", accuracy=exc.accuracy)
        raise
    except BaseException:
        write_training_metrics(metrics_file, outcome="failed")
        raise
    write_training_metrics(metrics_file, outcome="accepted", accuracy=result.metrics["accuracy"])
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items() if k != "test_rows")
    _emit(
        {"tag": result.tag, "digest": result.digest, "signature": result.signature, "metrics": result.metrics},
        [
            f"stored {result.tag} ({result.rows} records; held-out {metrics})",
            f"digest    {result.digest}",
            f"signature {result.signature}",
            "pin it in a stack:",
            f"  pulumi config set slipway:modelArtifactDigest {result.digest}",
            f"  pulumi config set slipway:modelSignature {result.signature}",
        ],
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container).")
@click.option("--port", type=int, default=3000, show_default=True)
def serve(host: str, port: int) -> None:
    """Run the model server (`bentoml serve` underneath): /predict, /review/*, /livez, /readyz, /metrics.

    The model must verify against $SLIPWAY_MODEL_PUBLIC_KEY (default $SLIPWAY_KEYS/signing.pub);
    otherwise the server stays up but not ready, and /readyz says why. In the image, $SLIPWAY_BENTO
    names the built Bento it serves (its own model store). A file-backed review queue with
    $SLIPWAY_SERVER_REPLICAS above 1 is refused at start (exit 2): one file per pod is not one queue.

    \b
    Examples:
      slipway serve
      SLIPWAY_MODEL=classifier:abc123 slipway serve --port 3100
    """
    import shutil

    from bentos.classifier.settings import ServerSettings

    settings = ServerSettings()
    settings.check_review_store()
    executable = shutil.which("bentoml") or str(Path(sys.executable).with_name("bentoml"))
    target = str(settings.bento) if settings.bento else "bentos.classifier.service:Classifier"
    argv = [executable, "serve", target, "--host", host, "--port", str(port)]
    os.execv(executable, argv)


@main.group()
def review() -> None:
    """The human review queue (the same queue the server writes to)."""


def _queue() -> Any:
    from bentos.classifier.review_queue import ReviewQueue
    from bentos.classifier.runtime import _read_key
    from bentos.classifier.settings import ServerSettings

    settings = ServerSettings()
    return ReviewQueue(settings.review_queue_path(), _read_key(settings))


@review.command("list")
@click.option("--limit", type=int, default=50, show_default=True)
def review_list(limit: int) -> None:
    """Pending reviews, oldest first."""
    queue = _queue()
    items = [i.summary() for i in queue.pending(limit=limit)]
    depth, oldest = queue.depth()
    _emit(
        {"pending": depth, "oldest_age_seconds": oldest, "items": items},
        [f"{depth} pending (oldest {oldest:.0f} s)"]
        + [
            f"{i['review_id']}  {i['prediction']:<9} p={i['probability']:.3f}  {','.join(i['reasons'])}"
            f"  request {i['request_id']}"
            for i in items
        ],
    )


@review.command("resolve")
@click.argument("review_id")
@click.option("--label", type=click.Choice(["malignant", "benign"]), required=True)
@click.option("--reviewer", required=True, help="Who decided (recorded in the audit trail).")
@click.option("--note", default="", help="Free text, stored encrypted.")
def review_resolve(review_id: str, label: str, reviewer: str, note: str) -> None:
    """Record a reviewer's decision.

    \b
    Examples:
      slipway review resolve rv-0123abcd --label benign --reviewer dr.ahmed --note "second read"
    """
    item = _queue().resolve(review_id, label=label, reviewer=reviewer, note=note)
    _emit(item.summary(), [f"{item.review_id} resolved as {item.label} by {item.reviewer}"])


@review.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def review_backup(directory: Path) -> None:
    """Copy the review queue and its audit trail into DIRECTORY (safe while the server runs).

    \b
    Examples:
      slipway review backup /backups/reviews-2026-11-28
    """
    result = _queue().backup(directory)
    _emit(result, [f"backed up {result['reviews']} reviews ({result['pending']} pending) and "
                   f"{result['audit_records']} audit records to {directory}"])  # fmt: skip


@review.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
def review_restore(directory: Path) -> None:
    """Replace the review queue and its audit trail with a backup (stop the servers first).

    The backup's integrity and its audit hash chain are checked before anything is replaced.

    \b
    Examples:
      slipway review restore /backups/reviews-2026-11-28
    """
    result = _queue().restore(directory)
    _emit(result, [f"restored {result['reviews']} reviews and {result['audit_records']} audit records"])


@review.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write.")
def review_export(out: Path) -> None:
    """Write resolved reviews as labelled records (contract columns + diagnosis) for retraining.

    \b
    Examples:
      slipway review export --out build/review-labels.csv
    """
    import csv

    from slipway.contract import FEATURE_NAMES

    records = list(_queue().resolved_records())
    with atomic_output(out) as stream:
        writer = csv.DictWriter(stream, fieldnames=["record_id", *FEATURE_NAMES, "diagnosis"])
        writer.writeheader()
        writer.writerows(records)
    _emit({"out": str(out), "records": len(records)}, [f"wrote {len(records)} resolved review(s) to {out}"])


@main.group()
def drift() -> None:
    """Drift of data against the served model's training reference."""


@drift.command("report")
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report directory (default: $SLIPWAY_HOME/reports/drift/<time>).",
)
def drift_report_command(data: Path, out: Path | None) -> None:
    """PSI and Kolmogorov-Smirnov per feature; JSON report plus a PNG chart per drifted feature.

    \b
    Examples:
      slipway drift report build/pipeline/data/records.parquet
    """
    import datetime

    from bentos.classifier.artifact import load_verified
    from bentos.classifier.drift_report import drift_report
    from bentos.classifier.settings import ServerSettings
    from slipway.audit import slipway_home

    settings = ServerSettings()
    model = load_verified(
        settings.model,
        public_key=settings.public_key_path(),
        expected_digest=settings.model_digest,
        bento=settings.bento,
    )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out or slipway_home() / "reports" / "drift" / stamp
    report = drift_report(data, model.card, target, model=model.tag)
    _emit(
        {**report, "out": str(target)},
        [f"{report['rows']} rows vs {model.tag}: {len(report['drifted'])} drifted feature(s)"]
        + [
            f"  {n}: PSI {report['features'][n]['psi']:.3f}, KS p {report['features'][n]['ks_pvalue']:.2g}"
            for n in report["drifted"]
        ]
        + [f"report {target / 'drift.json'}"],
    )


@main.group()
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
    _emit(report, lines)
    sys.exit(report["exit_code"])


@main.command()
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


def _register_package_groups() -> None:
    """Each package owns its command group; the CLI only assembles them."""
    from images.cli import image
    from infra.rehearse.cli import rehearse_command

    main.add_command(image)
    main.add_command(rehearse_command)


_register_package_groups()
