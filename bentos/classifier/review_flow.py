"""How a review is decided: claims with a lease, a version check, and four eyes on high-stakes cases.

A reviewer first *claims* a pending review (it is theirs until the lease expires, then it returns
to the queue), then *resolves* it naming the version they claimed; a claim that expired or a
version that moved on is a conflict, so two people never decide the same case unknowingly.

When the model predicted — or the first reviewer chose — a class the contract marks high-stakes,
one decision is not enough: the case goes to a second stage that only another subject holding the
``second-reviewer`` (or ``admin``) role may claim. Agreement resolves it; disagreement escalates it
to an ``admin`` who was neither of the two. Self-approval is refused here, whatever the client does.

The rules are plain functions over a ``Case`` so that every store (SQLite, PostgreSQL) applies
exactly the same ones.

Usage::

    case = claim(case, identity, now=time.time(), lease=300)
    case, event = decide(case, identity, label=label, version=case.version, now=time.time(), four_eyes={...})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

from slipway.errors import SlipwayError
from slipway.identity import ADMIN, REVIEWER, SECOND_REVIEWER, Forbidden, Identity

FIRST, SECOND, ESCALATED = "first", "second", "escalated"
DEFAULT_LEASE = 300.0


class ReviewConflict(SlipwayError):
    exit_code = 1


@dataclass(frozen=True)
class Case:
    """The decision state of one review (what the stores keep beside its encrypted payload)."""

    review_id: str
    status: str  # pending | resolved
    prediction: str
    stage: str = FIRST
    version: int = 0
    claimed_by: str | None = None
    claim_expires: float | None = None
    first_label: str | None = None
    first_reviewer: str | None = None
    second_label: str | None = None
    second_reviewer: str | None = None
    label: str | None = None
    reviewer: str | None = None

    def claimed_by_other(self, subject: str, now: float) -> bool:
        return self.claimed_by not in (None, subject) and (self.claim_expires or 0.0) > now


def _may_take(case: Case, who: Identity) -> None:
    """Who may act on a case at its stage (self-approval and the wrong role refused)."""
    if case.stage == FIRST:
        who.require(REVIEWER, SECOND_REVIEWER, ADMIN)
    elif case.stage == SECOND:
        who.require(SECOND_REVIEWER, ADMIN)
        if who.subject == case.first_reviewer:
            raise Forbidden(f"{who.subject} made the first decision on {case.review_id}: the second must be another's")
    else:
        who.require(ADMIN)
        if who.subject in (case.first_reviewer, case.second_reviewer):
            raise Forbidden(f"{who.subject} already decided {case.review_id}: another admin settles the escalation")


def claim(case: Case, who: Identity, *, now: float, lease: float = DEFAULT_LEASE) -> Case:
    if case.status == "resolved":
        raise ReviewConflict(f"review {case.review_id} was already resolved by {case.reviewer}")
    _may_take(case, who)
    if case.claimed_by_other(who.subject, now):
        left = (case.claim_expires or now) - now
        raise ReviewConflict(f"review {case.review_id} is claimed by {case.claimed_by} for {left:.0f} s more")
    return dataclasses.replace(case, claimed_by=who.subject, claim_expires=now + lease, version=case.version + 1)


def decide(
    case: Case, who: Identity, *, label: str, version: int, now: float, four_eyes: Collection[str]
) -> tuple[Case, str]:
    """The case after ``who`` chose ``label``, and the audit event it is (``review.first_decision``,
    ``review.escalated`` or ``review.resolved``). ``four_eyes``: classes that need two people."""
    if case.status == "resolved":
        raise ReviewConflict(f"review {case.review_id} was already resolved by {case.reviewer}")
    _may_take(case, who)
    if case.claimed_by != who.subject or (case.claim_expires or 0.0) <= now:
        raise ReviewConflict(f"claim review {case.review_id} first (or again: your claim expired or was taken)")
    if version != case.version:
        raise ReviewConflict(
            f"review {case.review_id} changed since you claimed it (version {case.version}, not {version})"
        )
    released = dataclasses.replace(case, claimed_by=None, claim_expires=None, version=case.version + 1)
    if case.stage == FIRST and (case.prediction in four_eyes or label in four_eyes):
        return dataclasses.replace(released, stage=SECOND, first_label=label, first_reviewer=who.subject), (
            "review.first_decision"
        )
    if case.stage == SECOND and label != case.first_label:
        escalated = dataclasses.replace(released, stage=ESCALATED, second_label=label, second_reviewer=who.subject)
        return escalated, "review.escalated"
    if case.stage == SECOND:
        released = dataclasses.replace(released, second_label=label, second_reviewer=who.subject)
    return dataclasses.replace(released, status="resolved", label=label, reviewer=who.subject), "review.resolved"
