"""`slipway train`, `slipway model import`: make a signed model for a data contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from slipway.output import emit

if TYPE_CHECKING:
    from lifecycle.train import TrainResult

CONTRACT_HELP = "Data contract: a file or an embedded contract's name (default: $SLIPWAY_CONTRACT, else wdbc)."
DATA_HELP = (
    "Labelled records (any format the pipeline reads: CSV, JSON Lines, Parquet, gzip); contract columns + label."
)


def contract_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--contract", "contract_ref", default=None, metavar="FILE|NAME", help=CONTRACT_HELP)(function)


def _recorded(run: Callable[[], TrainResult]) -> TrainResult:
    """Run training or import; write the training metrics whatever the outcome (RetrainingFailed sees it)."""
    from lifecycle.evaluate import CandidateRejected
    from lifecycle.training_metrics import write_training_metrics
    from slipway.audit import slipway_home

    metrics_file = slipway_home() / "metrics" / "training.prom"
    try:
        result = run()
    except CandidateRejected as exc:
        write_training_metrics(metrics_file, outcome="rejected", accuracy=exc.accuracy)
        raise
    except BaseException:
        write_training_metrics(metrics_file, outcome="failed")
        raise
    write_training_metrics(metrics_file, outcome="accepted", accuracy=result.metrics["accuracy"])
    return result


def _report(result: TrainResult, verb: str) -> None:
    from lifecycle.evaluate import summary
    from lifecycle.reliability import describe

    rejected = f", {result.rejected} rejected by the contract" if result.rejected else ""
    per_class = result.metrics["per_class"]
    calibration = result.metrics["calibration"]
    if not calibration["ok"]:
        click.echo(f"warning: {result.tag} is not calibrated well enough for its probabilities to estimate its "
                   f"accuracy ({describe(calibration)}): its estimates are marked untrusted", err=True)  # fmt: skip
    emit(
        {
            "tag": result.tag,
            "digest": result.digest,
            "signature": result.signature,
            "metrics": result.metrics,
            "rows": result.rows,
            "rejected": result.rejected,
        },
        [
            f"{verb} {result.tag} ({result.rows} records{rejected}; held-out {summary(result.metrics)})",
            "recall by class: " + ", ".join(f"{c} {v['recall']:.3f}" for c, v in per_class.items()),
            "calibration: " + describe(calibration),
            f"digest    {result.digest}",
            f"signature {result.signature}",
            "pin it in a stack:",
            f"  pulumi config set slipway:modelArtifactDigest {result.digest}",
            f"  pulumi config set slipway:modelSignature {result.signature}",
        ],
    )


@click.command()
@contract_option
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=DATA_HELP + " Default: the contract's default_data.")  # fmt: skip
@click.option(
    "--estimator",
    default="lifecycle.estimators:logistic",
    show_default=True,
    metavar="MODULE:FACTORY",
    help="A callable returning an unfitted scikit-learn-compatible classifier; the kit's preprocessing goes in front.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the data split.")
def train(contract_ref: str | None, data: Path | None, estimator: str, seed: int) -> None:
    """Train, calibrate, evaluate, sign and store a classifier for a data contract.

    Any number of classes; numbers, whole numbers, booleans and categories (one-hot encoded over the
    contract's values); missing optional values imputed. The contract's frozen evaluation set is set
    aside (made from the first run's data); the rest splits 75/25 into fit and calibrate; metrics and
    the calibration check are on the frozen set.

    \b
    Examples:
      slipway keys generate && slipway train
      slipway train --contract contracts/credit.yaml
      slipway train --contract my-contract.yaml --data labelled.csv --estimator lifecycle.estimators:gradient_boosting
      slipway train --data build/review-labels.csv

    \b
    Exit codes:
      0  trained, signed and stored
      1  the candidate is below the contract's min_accuracy (nothing stored)
      2  unusable input (no signing key, unreadable data or contract, too few records of a class)

    Every run writes $SLIPWAY_HOME/metrics/training.prom (outcome, held-out accuracy, last success).
    """
    from lifecycle.train import train as run_training
    from slipway.contract import load_contract
    from slipway.signing import KeyStore

    contract = load_contract(contract_ref)
    result = _recorded(lambda: run_training(KeyStore.default(), contract, seed=seed, data=data, estimator=estimator))
    _report(result, "stored")


@click.group()
def model() -> None:
    """Models made elsewhere: import them under the kit's checks and signature."""


@model.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@contract_option
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help=DATA_HELP + " Less the frozen evaluation set it calibrates; the frozen set evaluates.")  # fmt: skip
@click.option("--trust", multiple=True, metavar="TYPE", help="A type in the skops file you reviewed and trust.")
@click.option("--allow-pickle", is_flag=True, help="Accept a pickle/joblib file (loading it runs its code).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the calibration/test split.")
def model_import(
    file: Path, contract_ref: str | None, data: Path, trust: tuple[str, ...], allow_pickle: bool, seed: int
) -> None:
    """Check, calibrate, evaluate, sign and store a fitted scikit-learn classifier trained elsewhere.

    The model must take a DataFrame with one column per contract input (numbers, booleans, category
    strings; missing = null), have the contract's classes as classes_, and answer every record the
    contract allows. Save it with skops (skops.io.dump(model, "model.skops")).

    \b
    Examples:
      slipway model import model.skops --contract contracts/credit.yaml --data holdout.csv
      slipway model import model.skops --data eval.csv --trust mylib.Transformer
      slipway model import model.joblib --data eval.csv --allow-pickle

    \b
    Exit codes:
      0  imported, signed and stored
      1  below the contract's min_accuracy (nothing stored)
      2  unusable input (format, untrusted types, classes or columns that are not the contract's)
    """
    from lifecycle.importer import import_model
    from slipway.contract import load_contract
    from slipway.signing import KeyStore

    contract = load_contract(contract_ref)
    result = _recorded(
        lambda: import_model(
            KeyStore.default(), contract, file, data=data, trusted=trust, allow_pickle=allow_pickle, seed=seed
        )
    )
    _report(result, "imported")
