"""Which model serves a contract now (the champion) and the ones before it, under
``$SLIPWAY_HOME/loop/<contract>-v<version>/champion.json``.

Written only by an approved promotion, a rollback, or the loop's first reconcile (which records the
model already serving). Rollback restores ``previous``; the history keeps every change.

Usage::

    champion = current_champion(contract)          # None before the first record
    record_champion(contract, model, reason="promoted")
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from bentos.classifier.artifact import VerifiedModel
from slipway.contract import Contract
from slipway.errors import UsageError
from slipway.output import atomic_output


def loop_directory(contract: Contract, home: Path | None = None) -> Path:
    from slipway.audit import slipway_home

    return (home or slipway_home()) / "loop" / f"{contract.name}-v{contract.version}"


def _path(contract: Contract) -> Path:
    return loop_directory(contract) / "champion.json"


def current_champion(contract: Contract) -> dict[str, Any] | None:
    path = _path(contract)
    if not path.exists():
        return None
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: the champion record cannot be read ({exc})") from None
    return record


def record_champion(contract: Contract, model: VerifiedModel, *, reason: str) -> dict[str, Any]:
    """``model`` serves from now on; the champion it replaces becomes ``previous``."""
    before = current_champion(contract)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = {"tag": model.tag, "digest": model.digest, "signature": model.signature, "since": now, "reason": reason}
    history = [*(before or {}).get("history", []), entry]
    previous = {k: before[k] for k in ("tag", "digest", "signature", "since")} if before else None
    record = {**entry, "previous": previous, "history": history}
    with atomic_output(_path(contract)) as stream:
        stream.write(json.dumps(record, indent=2) + "\n")
    return record


def champion_tag(contract: Contract) -> str:
    champion = current_champion(contract)
    if champion is None:
        raise UsageError(
            f"no champion is recorded for contract {contract.name}: name a model tag with --against, or record the "
            "serving model with `slipway loop reconcile`"
        )
    return str(champion["tag"])


def pin_stack(stack: str, model: dict[str, Any]) -> Path:
    """Write ``model``'s digest and signature into ``Pulumi.<stack>.yaml`` for the next `pulumi up`
    (the server refuses any other model: ``SLIPWAY_MODEL_DIGEST``). The image must carry the model:
    ``SLIPWAY_MODEL=<tag> slipway image build --stack <stack>`` packages and pins it in one step."""
    from infra.render import find_project_dir
    from infra.stack_file import set_stack_values

    path = find_project_dir(Path.cwd()) / f"Pulumi.{stack}.yaml"
    set_stack_values(path, {"modelArtifactDigest": str(model["digest"]), "modelSignature": str(model["signature"])})
    return path


def rollback(contract: Contract, *, reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The previous champion serves again (recorded as a new entry); answers (from, to)."""
    from bentos.classifier.artifact import load_verified
    from slipway.signing import KeyStore

    champion = current_champion(contract)
    if champion is None or not champion.get("previous"):
        raise UsageError(f"contract {contract.name} has no previous champion to roll back to")
    previous = champion["previous"]
    model = load_verified(str(previous["tag"]), public_key=KeyStore.default().public_key_path,
                          expected_digest=str(previous["digest"]))  # fmt: skip
    record_champion(contract, model, reason=f"rollback: {reason}")
    return {k: champion[k] for k in ("tag", "digest", "signature")}, {
        k: previous[k] for k in ("tag", "digest", "signature")
    }
