"""`slipway serve`, `slipway review ...`, `slipway drift report`: the model server's commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from slipway.output import atomic_output, emit

CONTRACT_HELP = "Data contract: a file or an embedded contract's name (default: $SLIPWAY_CONTRACT, else wdbc)."


def _contract_env(contract_ref: str | None) -> None:
    """``--contract`` wins over $SLIPWAY_CONTRACT (the server reads the environment)."""
    if contract_ref is not None:
        from slipway.contract import contract_path

        os.environ["SLIPWAY_CONTRACT"] = str(contract_path(contract_ref).resolve())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container).")
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--contract", "contract_ref", default=None, metavar="FILE|NAME", help=CONTRACT_HELP)
def serve(host: str, port: int, contract_ref: str | None) -> None:
    """Run the model server (`bentoml serve` underneath): /predict, /review/*, /livez, /readyz, /metrics.

    The model must verify against $SLIPWAY_MODEL_PUBLIC_KEY (default $SLIPWAY_KEYS/signing.pub);
    otherwise the server stays up but not ready, and /readyz says why. In the image, $SLIPWAY_BENTO
    names the built Bento it serves (its own model store). A file-backed review queue with
    $SLIPWAY_SERVER_REPLICAS above 1 is refused at start (exit 2): one file per pod is not one queue.
    The model must have been made for the contract served (its card records the contract's digest);
    otherwise it is refused the same way. An unreadable contract stops the start (exit 2).

    \b
    Examples:
      slipway serve
      slipway serve --contract contracts/credit.yaml --port 3100
      SLIPWAY_MODEL=classifier:abc123 slipway serve --port 3100
    """
    import shutil

    from bentos.classifier.settings import ServerSettings

    _contract_env(contract_ref)
    settings = ServerSettings()
    settings.check_review_store()
    settings.high_stakes(settings.load_contract())
    executable = shutil.which("bentoml") or str(Path(sys.executable).with_name("bentoml"))
    target = str(settings.bento) if settings.bento else "bentos.classifier.service:Classifier"
    argv = [executable, "serve", target, "--host", host, "--port", str(port)]
    os.execv(executable, argv)


@click.group()
@click.option("--contract", "contract_ref", default=None, metavar="FILE|NAME", help=CONTRACT_HELP)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A file holding your access token (default: $SLIPWAY_TOKEN). Every review command acts as its subject.",
)
def review(contract_ref: str | None, token_file: Path | None) -> None:
    """The human review queue (the same queue the server writes to), as an authenticated subject.

    Labels are the contract's classes. The token is verified as the server verifies it (issuer,
    keys, audience, roles): list needs reviewer, second-reviewer, auditor or admin; resolve needs
    reviewer, second-reviewer or admin; export, backup and restore need admin.
    """
    from slipway.identity.command import use_token_file

    _contract_env(contract_ref)
    use_token_file(token_file)


def _subject(*roles: str) -> Any:
    """The verified identity of $SLIPWAY_TOKEN, holding one of ``roles``."""
    from slipway.identity.command import command_identity

    return command_identity(*roles)


def _queue() -> Any:
    from bentos.classifier.review_store import open_review_store
    from bentos.classifier.settings import ServerSettings

    settings = ServerSettings()
    return open_review_store(settings, settings.load_contract())


@review.command("list")
@click.option("--limit", type=int, default=50, show_default=True)
def review_list(limit: int) -> None:
    """Pending reviews, oldest first."""
    from slipway.identity import ADMIN, AUDITOR, REVIEWER, SECOND_REVIEWER

    _subject(REVIEWER, SECOND_REVIEWER, AUDITOR, ADMIN)
    queue = _queue()
    items = [i.summary() for i in queue.pending(limit=limit)]
    depth, oldest = queue.depth()
    emit(
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
@click.option("--label", required=True, help="The true class: one of the contract's classes.")
@click.option("--note", default="", help="Free text, stored encrypted.")
def review_resolve(review_id: str, label: str, note: str) -> None:
    """Claim and decide a review; the audit trail names your token's subject. A case of a high-stakes
    class then waits for a second person (second-reviewer or admin); if they disagree it escalates to
    another admin.

    \b
    Examples:
      slipway review --token-file ~/.slipway-token resolve rv-0123abcd --label "$CLASS" --note "second read"
      SLIPWAY_TOKEN=... slipway review --contract contracts/credit.yaml resolve rv-4567efab --label medium
    """
    from slipway.errors import UsageError
    from slipway.identity import ADMIN, REVIEWER, SECOND_REVIEWER

    reviewer = _subject(REVIEWER, SECOND_REVIEWER, ADMIN)
    queue = _queue()
    chosen = queue.contract.class_of(label)
    if chosen is None:
        raise UsageError(f"--label {label!r}: give one of contract {queue.contract.name}'s classes "
                         f"{list(queue.contract.classes)}")  # fmt: skip
    claimed = queue.claim(review_id, who=reviewer)  # one command: claim, then decide at that version
    item = queue.resolve(review_id, label=chosen, reviewer=reviewer, version=claimed.version, note=note)
    outcome = {"first": "resolved", "second": "awaiting a second reviewer", "escalated": "escalated to an admin"}
    state = "resolved" if item.status == "resolved" else outcome[item.stage]
    emit(item.summary(), [f"{item.review_id}: {chosen} by {reviewer.subject}; {state}"])


@review.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def review_backup(directory: Path) -> None:
    """Copy the review queue and its audit trail into DIRECTORY (safe while the server runs).

    \b
    Examples:
      slipway review backup /backups/reviews-2026-11-28
    """
    from slipway.identity import ADMIN

    _subject(ADMIN)
    result = _queue().backup(directory)
    emit(result, [f"backed up {result['reviews']} reviews ({result['pending']} pending) and "
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
    from slipway.identity import ADMIN

    _subject(ADMIN)
    result = _queue().restore(directory)
    emit(result, [f"restored {result['reviews']} reviews and {result['audit_records']} audit records"])


@review.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write.")
def review_export(out: Path) -> None:
    """Write resolved reviews as labelled records (key, contract features, label) for retraining.

    \b
    Examples:
      slipway review export --out build/review-labels.csv
    """
    import csv

    from slipway.identity import ADMIN

    exporter = _subject(ADMIN)
    queue = _queue()
    contract = queue.contract
    records = list(queue.resolved_records(exporter=exporter))
    with atomic_output(out) as stream:
        columns = [contract.key.field, *(f.name for f in contract.features), contract.label.field]
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
    emit({"out": str(out), "records": len(records)}, [f"wrote {len(records)} resolved review(s) to {out}"])


@click.group()
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
@click.option("--contract", "contract_ref", default=None, metavar="FILE|NAME", help=CONTRACT_HELP)
def drift_report_command(data: Path, out: Path | None, contract_ref: str | None) -> None:
    """PSI per feature (numbers binned, categories with unseen values counted), KS for numbers; a JSON
    report plus a PNG chart per drifted feature. The model is the server's (SLIPWAY_MODEL, else the newest made for the
    contract), verified,
    and must have been made for the contract.

    \b
    Examples:
      slipway drift report build/pipeline/data/records.parquet
      slipway drift report build/credit/data/records.parquet --contract contracts/credit.yaml
    """
    import datetime

    from bentos.classifier.artifact import check_card, load_served
    from bentos.classifier.drift_report import drift_report
    from bentos.classifier.settings import ServerSettings
    from slipway.audit import slipway_home

    _contract_env(contract_ref)
    settings = ServerSettings()
    contract = settings.load_contract()
    model = load_served(settings, contract)
    check_card(model, contract)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out or slipway_home() / "reports" / "drift" / stamp
    report = drift_report(data, model.card, contract, target, model=model.tag)
    emit(
        {**report, "out": str(target)},
        [f"{report['rows']} rows vs {model.tag}: {len(report['drifted'])} drifted feature(s)"]
        + [
            f"  {n}: PSI {report['features'][n]['psi']:.3f}"
            + (f", KS p {report['features'][n]['ks_pvalue']:.2g}" if "ks_pvalue" in report["features"][n] else "")
            for n in report["drifted"]
        ]
        + [f"report {target / 'drift.json'}"],
    )
