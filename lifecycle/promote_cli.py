"""`slipway promote request|approve|reject|list` and `slipway rollback`: four-eyes promotion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from lifecycle.cli import contract_option
from slipway.output import emit

TOKEN_HELP = "A file holding your access token (default: $SLIPWAY_TOKEN): you act as its verified subject."


def _setup(contract_ref: str | None, token_file: Path | None) -> tuple[Any, Any]:
    from slipway.contract import load_contract
    from slipway.identity.command import use_token_file
    from slipway.signing import KeyStore

    use_token_file(token_file)
    return load_contract(contract_ref), KeyStore.default()


def _who(*roles: str) -> Any:
    from slipway.identity.command import command_identity

    return command_identity(*roles, acting="promotion commands")


def _token_option(function: Any) -> Any:
    return click.option("--token-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                        default=None, help=TOKEN_HELP)(function)  # fmt: skip


@click.group()
def promote() -> None:
    """Four-eyes promotion of a challenger that passed `slipway evaluate`.

    \b
    Examples:
      slipway promote request --evaluation .slipway/evaluations/<version> --token-file me.jwt
      slipway promote approve pr-0123abcd --reason "report reviewed" --token-file other.jwt
      slipway promote list

    The approved challenger then runs in shadow and is promoted by `slipway loop reconcile`.
    Every step is signed and appended to $SLIPWAY_HOME/audit/promotions.jsonl.
    """


@promote.command("request")
@click.option("--evaluation", type=click.Path(exists=True, path_type=Path), required=True,
              help="The report of `slipway evaluate` (its folder or evaluation.json).")  # fmt: skip
@contract_option
@_token_option
def promote_request(evaluation: Path, contract_ref: str | None, token_file: Path | None) -> None:
    """Ask for the evaluated challenger to replace the champion (admin; the report must pass).

    \b
    Exit codes:
      0  requested   1  refused (failed evaluation, another promotion open, champion changed)   2  unusable input
    """
    from lifecycle.promotions import request
    from slipway.errors import UsageError
    from slipway.identity import ADMIN

    contract, keys = _setup(contract_ref, token_file)
    who = _who(ADMIN)
    path = evaluation / "evaluation.json" if evaluation.is_dir() else evaluation
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not an evaluation report ({exc})") from None
    promotion = request(keys, contract, report, who)
    emit(promotion.summary(), [f"requested {promotion.promotion_id}: {promotion.challenger['tag']} to replace "
                               f"{promotion.champion['tag']}; another admin approves it"])  # fmt: skip


def _decision(approve: bool) -> Any:
    @click.argument("promotion_id")
    @click.option("--reason", required=True, help="Why (recorded, signed).")
    @contract_option
    @_token_option
    def command(promotion_id: str, reason: str, contract_ref: str | None, token_file: Path | None) -> None:
        from lifecycle import promotions
        from slipway.identity import ADMIN, REVIEWER, SECOND_REVIEWER

        contract, keys = _setup(contract_ref, token_file)
        who = _who(ADMIN) if approve else _who(ADMIN, REVIEWER, SECOND_REVIEWER)
        step = promotions.approve if approve else promotions.reject
        promotion = step(keys, contract, promotion_id, who, reason=reason)
        emit(promotion.summary(), [f"{promotion.promotion_id} {promotion.status} by {who.subject}"])

    command.__doc__ = (
        "Approve a requested promotion: an admin other than the requester (then `slipway loop reconcile`\n"
        "runs it in shadow and promotes it)."
        if approve
        else "Reject an open promotion (an admin, or the requester withdrawing it)."
    )
    return command


promote.command("approve")(_decision(approve=True))
promote.command("reject")(_decision(approve=False))


@promote.command("list")
@contract_option
def promote_list(contract_ref: str | None) -> None:
    """Every promotion of the contract and where it stands."""
    from lifecycle.promotions import promotions
    from slipway.contract import load_contract

    found = [p.summary() for p in promotions(load_contract(contract_ref)).values()]
    emit({"promotions": found}, [f"{p['promotion_id']}  {p['status']:<9} {p['challenger']} (by {p['requester']})"
                                 for p in found] or ["no promotions"])  # fmt: skip


@click.command("rollback")
@click.option("--reason", required=True, help="Why (recorded, signed).")
@click.option("--stack", default=None, help="Also pin the restored model in Pulumi.<stack>.yaml.")
@contract_option
@_token_option
def rollback_command(reason: str, stack: str | None, contract_ref: str | None, token_file: Path | None) -> None:
    """Restore the previous champion (admin): the champion record, and the stack when given.

    \b
    Examples:
      slipway rollback --reason "audit accuracy fell after promotion" --stack prod --token-file me.jwt
    """
    from lifecycle.champion import loop_directory, pin_stack, rollback
    from lifecycle.loop import LoopState
    from lifecycle.promotions import record_rollback
    from slipway.identity import ADMIN

    contract, keys = _setup(contract_ref, token_file)
    who = _who(ADMIN)
    left, restored = rollback(contract, reason=reason)
    record_rollback(keys, contract, who, from_model=left, to_model=restored, reason=reason)
    state = LoopState.load(loop_directory(contract))
    state.move("rolled-back", f"{who.subject} rolled back from {left['tag']} to {restored['tag']}: {reason}")
    state.save()
    pinned = str(pin_stack(stack, restored)) if stack else None
    line = f"rolled back from {left['tag']} to {restored['tag']}" + (f"; pinned in {pinned}" if pinned else "")
    emit({"from": left, "to": restored, "stack_file": pinned}, [line])
