"""`slipway loop reconcile|status`: the model loop (see ``lifecycle.loop``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lifecycle.cli import contract_option
from slipway.output import emit


@click.group()
def loop() -> None:
    """The model loop: watch the alerts, retrain, evaluate, ask for approval, shadow, promote."""


@loop.command("reconcile")
@contract_option
@click.option(
    "--prometheus", "prometheus_url", default=None, help="Prometheus (default: $SLIPWAY_LOOP_PROMETHEUS_URL)."
)
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fresh labelled records to retrain on ($SLIPWAY_LOOP_DATA; default: the contract's).")  # fmt: skip
@click.option("--stack", default=None, help="Pin a promoted model in Pulumi.<stack>.yaml ($SLIPWAY_LOOP_STACK).")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="The loop's own access token (default: $SLIPWAY_TOKEN): it requests promotions as it.")  # fmt: skip
def loop_reconcile(
    contract_ref: str | None, prometheus_url: str | None, data: Path | None, stack: str | None, token_file: Path | None
) -> None:
    """One pass of the loop (idempotent: run it on a schedule).

    Triggers: EstimatedAccuracyLow, CalibrationBroken, AuditAccuracyLow. Drift alone only makes the
    model suspect. Guards: data source offline or stale, schema drift, the cool-down, the attempt
    cap, too few new labels. A passing candidate becomes a promotion request by this token's
    subject; another admin approves it (`slipway promote approve`).

    \b
    Examples:
      slipway loop reconcile --prometheus http://prometheus.monitoring:9090 --stack prod
      SLIPWAY_LOOP_DATA=labels.parquet slipway loop reconcile --token-file loop.jwt

    \b
    Exit codes:
      0  reconciled (the state and why are printed)
      2  unusable input (no token, no model, bad settings)
      3  Prometheus did not answer: nothing changed
    """
    from lifecycle.loop import LoopSettings, Reconciler
    from slipway.contract import load_contract
    from slipway.identity import ADMIN
    from slipway.identity.command import command_identity, use_token_file

    use_token_file(token_file)
    overrides: dict[str, Any] = {k: v for k, v in {"prometheus_url": prometheus_url, "data": data,
                                                   "stack": stack}.items() if v is not None}  # fmt: skip
    settings = LoopSettings(**overrides)
    contract = load_contract(contract_ref)
    who = command_identity(ADMIN, acting="the loop")
    outcome = Reconciler(contract, settings, who).reconcile()
    firing = ", ".join(outcome["firing"]) or "nothing"
    emit(outcome, [f"{contract.name}: {outcome['state']} — {outcome['reason']}",
                   f"  champion {outcome['champion']}; firing: {firing}"])  # fmt: skip


@loop.command("status")
@contract_option
def loop_status(contract_ref: str | None) -> None:
    """Where the loop stands and why: state, champion, open promotion, recent moves."""
    from lifecycle.loop import status
    from slipway.contract import load_contract

    found = status(load_contract(contract_ref))
    champion = found["champion"] or {}
    lines = [f"{found['state']} since {found['since']}: {found['reason']}",
             f"champion: {champion.get('tag', 'none recorded')}; attempts: {found['attempts']}"]  # fmt: skip
    if found["promotion"]:
        lines.append(f"promotion {found['promotion']['promotion_id']}: {found['promotion']['status']}")
    lines += [f"  {h['time']}  {h['from']} -> {h['to']}: {h['reason']}" for h in found["history"]]
    emit(found, lines)
