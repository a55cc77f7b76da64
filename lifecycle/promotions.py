"""Four-eyes promotion of a challenger, recorded in a signed, hash-chained trail.

Every step is an event in ``$SLIPWAY_HOME/audit/promotions.jsonl`` (``slipway audit verify
promotions`` checks the chain and every record's Ed25519 signature):

    promotion.requested   a passing evaluation report, by a verified subject (a person, or the loop's own)
    promotion.approved    by another verified subject with the admin role (never the requester)
    promotion.rejected    by an admin (or the requester withdrawing it)
    promotion.shadow      the challenger answers in shadow (logged, never returned) until the window ends
    promotion.promoted    it serves: the champion record and the stack configuration name it
    promotion.rolled_back the previous champion serves again

A record carries both models' tags, digests and signatures, the training data fingerprints, the
frozen evaluation set's digest, the criteria's digest and every check with its value and bound
(``slipway.audit.append_signed``).
The state of a promotion is the fold of its events; nothing else is kept.

Usage::

    promotion = request(keys, contract, report, identity)
    approve(keys, contract, promotion.promotion_id, other_identity, reason="reviewed the report")
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from slipway.audit import AuditTrail, append_signed
from slipway.contract import Contract
from slipway.errors import UsageError
from slipway.identity import ADMIN, Forbidden, Identity
from slipway.signing import KeyStore

TRAIL = "promotions"
OPEN = ("requested", "approved", "shadow")
STATUS_OF_EVENT = {
    "promotion.requested": "requested",
    "promotion.approved": "approved",
    "promotion.rejected": "rejected",
    "promotion.shadow": "shadow",
    "promotion.promoted": "promoted",
}


class PromotionRefused(UsageError):
    """The step is not allowed now (a failed evaluation, the wrong state, one person doing both)."""

    exit_code = 1


@dataclass
class Promotion:
    promotion_id: str
    contract: str
    challenger: dict[str, Any]
    champion: dict[str, Any]
    requester: dict[str, Any]
    requested_at: str
    status: str = "requested"
    approver: dict[str, Any] | None = None
    decided_at: str | None = None
    reason: str | None = None
    shadow: dict[str, Any] | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"promotion_id": self.promotion_id, "status": self.status, "challenger": self.challenger["tag"],
                "champion": self.champion["tag"], "requester": self.requester.get("subject"),
                "approver": (self.approver or {}).get("subject"), "requested_at": self.requested_at,
                "decided_at": self.decided_at, "reason": self.reason, "shadow": self.shadow}  # fmt: skip


def trail() -> AuditTrail:
    return AuditTrail.for_name(TRAIL)


def _append(keys: KeyStore, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return append_signed(trail(), keys, event, data)


def promotions(contract: Contract) -> dict[str, Promotion]:
    """Every promotion of ``contract``, in request order, as its events leave it."""
    found: dict[str, Promotion] = {}
    for record in trail().records():
        data, event = record["data"], record["event"]
        if data.get("contract", {}).get("digest") != contract.digest:
            continue
        pid = data.get("promotion_id")
        if event == "promotion.requested":
            found[pid] = Promotion(pid, contract.name, data["challenger"], data["champion"], data["requester"],
                                   record["time"], evaluation=data["evaluation"])  # fmt: skip
        elif pid in found and event in STATUS_OF_EVENT:
            promotion = found[pid]
            promotion.status = STATUS_OF_EVENT[event]
            if event in ("promotion.approved", "promotion.rejected"):
                promotion.approver, promotion.decided_at = data["decider"], record["time"]
                promotion.reason = data.get("reason")
            if event == "promotion.shadow":
                promotion.shadow = {"since": data["since"], "seconds": data["seconds"],
                                    "min_records": data["min_records"]}  # fmt: skip
    return found


def open_promotion(contract: Contract) -> Promotion | None:
    return next((p for p in promotions(contract).values() if p.status in OPEN), None)


def _get(contract: Contract, promotion_id: str) -> Promotion:
    found = promotions(contract).get(promotion_id)
    if found is None:
        raise UsageError(f"no promotion {promotion_id} for contract {contract.name} (`slipway promote list`)")
    return found


def request(keys: KeyStore, contract: Contract, report: dict[str, Any], who: Identity) -> Promotion:
    """Ask for the report's challenger to replace its champion (the report must pass)."""
    from lifecycle.champion import current_champion

    if report.get("contract", {}).get("digest") != contract.digest:
        raise UsageError(f"the evaluation report is for another contract than {contract.describe()}")
    if not report.get("passed"):
        failed = ", ".join(c["name"] for c in report.get("checks", []) if not c.get("passed")) or "unknown checks"
        raise PromotionRefused(f"the challenger did not pass its evaluation ({failed}): it cannot be promoted")
    champion = current_champion(contract)
    if champion is None or champion["digest"] != report["champion"]["digest"]:
        raise PromotionRefused("the champion changed since this evaluation: evaluate the challenger again")
    pending = open_promotion(contract)
    if pending is not None:
        raise PromotionRefused(f"promotion {pending.promotion_id} is still {pending.status}: approve, reject or "
                               "finish it first")  # fmt: skip
    report_digest = "sha256:" + hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()
    promotion_id = "pr-" + hashlib.sha256(f"{report_digest}{time.time_ns()}".encode()).hexdigest()[:16]
    checks = [{k: c[k] for k in ("name", "passed", "value", "bound")} for c in report["checks"]]
    evaluation = {"report_sha256": report_digest, "evaluation_set": report["evaluation_set"],
                  "criteria": report["criteria"], "checks": checks}  # fmt: skip
    _append(keys, "promotion.requested", {
        "promotion_id": promotion_id, "contract": contract.summary(), "challenger": report["challenger"],
        "champion": report["champion"], "evaluation": evaluation, "requester": who.audit_fields(),
        **who.audit_fields()})  # fmt: skip
    return _get(contract, promotion_id)


def _decide(
    keys: KeyStore, contract: Contract, promotion_id: str, who: Identity, reason: str, approve: bool
) -> Promotion:
    promotion = _get(contract, promotion_id)
    if not reason.strip():
        raise UsageError("give the reason for the decision (--reason)")
    if approve:
        who.require(ADMIN)
        if promotion.status != "requested":
            raise PromotionRefused(f"promotion {promotion_id} is {promotion.status}, not waiting for approval")
        if who.subject == promotion.requester.get("subject") and who.issuer == promotion.requester.get("issuer"):
            raise Forbidden(f"{who.subject} requested promotion {promotion_id}: another person must approve it")
    else:
        if who.subject != promotion.requester.get("subject"):
            who.require(ADMIN)
        if promotion.status not in OPEN:
            raise PromotionRefused(f"promotion {promotion_id} is already {promotion.status}")
    event = "promotion.approved" if approve else "promotion.rejected"
    _append(keys, event, {"promotion_id": promotion_id, "contract": contract.summary(), "reason": reason,
                          "decider": who.audit_fields(), **who.audit_fields()})  # fmt: skip
    return _get(contract, promotion_id)


def approve(keys: KeyStore, contract: Contract, promotion_id: str, who: Identity, *, reason: str) -> Promotion:
    return _decide(keys, contract, promotion_id, who, reason, approve=True)


def reject(keys: KeyStore, contract: Contract, promotion_id: str, who: Identity, *, reason: str) -> Promotion:
    return _decide(keys, contract, promotion_id, who, reason, approve=False)


def start_shadow(keys: KeyStore, contract: Contract, promotion: Promotion, who: Identity, *, seconds: float,
                 min_records: int) -> Promotion:  # fmt: skip
    if promotion.status != "approved":
        raise PromotionRefused(f"promotion {promotion.promotion_id} is {promotion.status}, not approved")
    _append(keys, "promotion.shadow", {"promotion_id": promotion.promotion_id, "contract": contract.summary(),
                                       "since": time.time(), "seconds": seconds, "min_records": min_records,
                                       **who.audit_fields()})  # fmt: skip
    return _get(contract, promotion.promotion_id)


def complete(keys: KeyStore, contract: Contract, promotion: Promotion, who: Identity, *,
             shadow: dict[str, Any]) -> Promotion:  # fmt: skip
    if promotion.status != "shadow":
        raise PromotionRefused(f"promotion {promotion.promotion_id} is {promotion.status}, not in shadow")
    _append(keys, "promotion.promoted", {"promotion_id": promotion.promotion_id, "contract": contract.summary(),
                                         "challenger": promotion.challenger, "champion": promotion.champion,
                                         "shadow": shadow, **who.audit_fields()})  # fmt: skip
    return _get(contract, promotion.promotion_id)


def record_rollback(keys: KeyStore, contract: Contract, who: Identity, *, from_model: dict[str, Any],
                    to_model: dict[str, Any], reason: str) -> None:  # fmt: skip
    _append(keys, "promotion.rolled_back", {"contract": contract.summary(), "from": from_model, "to": to_model,
                                            "reason": reason, **who.audit_fields()})  # fmt: skip
