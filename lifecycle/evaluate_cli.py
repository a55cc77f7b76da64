"""`slipway evaluate`: a challenger against the champion on the frozen evaluation set."""

from __future__ import annotations

from pathlib import Path

import click

from lifecycle.cli import contract_option
from slipway.output import emit


@click.command("evaluate")
@click.argument("candidate", metavar="CANDIDATE")
@click.option("--against", default="champion", show_default=True, metavar="champion|TAG",
              help="The model to beat: the recorded champion, or a model tag.")  # fmt: skip
@contract_option
@click.option("--criteria", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Promotion criteria (default: the kit's lifecycle/promotion.yaml).")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the report goes (default: $SLIPWAY_HOME/evaluations/<candidate version>).")  # fmt: skip
def evaluate_command(
    candidate: str, against: str, contract_ref: str | None, criteria: Path | None, out: Path | None
) -> None:
    """Compare CANDIDATE (a model tag) with the champion on the contract's frozen evaluation set.

    Both models are verified under the signing key first. Paired checks with pre-registered margins:
    accuracy and the recall of each high-stakes class (lower confidence bounds), slices by source and
    by confidence band, Brier score, the calibration check and single-record latency. Writes
    evaluation.json, evaluation.md and reliability.png.

    \b
    Examples:
      slipway evaluate classifier:abc123
      slipway evaluate classifier:abc123 --against classifier:def456 --out build/evaluation
      slipway evaluate classifier:abc123 --criteria my-promotion.yaml

    \b
    Exit codes:
      0  the candidate passes every criterion
      1  it does not (the report says which check failed)
      2  unusable input (unknown or unverifiable model, no frozen set, bad criteria)
    """
    from bentos.classifier.artifact import check_card, load_verified
    from lifecycle.champion import champion_tag
    from lifecycle.compare import compare
    from lifecycle.criteria import load_criteria
    from lifecycle.evaluation_report import write_report
    from lifecycle.frozen import directory_for, open_frozen
    from slipway.audit import slipway_home
    from slipway.contract import load_contract
    from slipway.errors import UsageError
    from slipway.signing import KeyStore

    contract = load_contract(contract_ref)
    rules = load_criteria(criteria)
    public_key = KeyStore.default().public_key_path
    models = []
    for tag in (candidate, champion_tag(contract) if against == "champion" else against):
        model = load_verified(tag, public_key=public_key)
        check_card(model, contract)
        models.append(model)
    frozen = open_frozen(directory_for(contract), contract)
    if frozen is None:
        raise UsageError(f"contract {contract.name} has no frozen evaluation set yet: `slipway train` makes it")
    report = compare(models[0], models[1], frozen, contract, rules)
    paths = write_report(report, out or slipway_home() / "evaluations" / models[0].version)
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    verdict = "passes every criterion" if report["passed"] else "fails " + ", ".join(failed)
    emit({**report, "files": paths},
         [f"{models[0].tag} against {models[1].tag} on {frozen.rows} frozen cases: {verdict}",
          *(f"  {'ok  ' if c['passed'] else 'FAIL'} {c['name']}: {c['detail']}" for c in report["checks"]),
          f"report: {paths['evaluation.md']}"])  # fmt: skip
    if not report["passed"]:
        raise SystemExit(1)
