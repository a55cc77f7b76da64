"""What to tell a reviewer whose open case moved on without them: decided by someone else, taken
over after their claim ran out, or given a first decision by another person. One wording for the
live notice on the open page and for the answer to a form that arrives too late.

Usage::

    notice = overtaken(queue.describe(review_id), identity.subject, seen=version, now=time.time())
"""

from __future__ import annotations

from bentos.classifier.review_queue import ReviewItem

NOTHING_RECORDED = "Nothing of yours was recorded."


def overtaken(item: ReviewItem, subject: str, *, seen: int, now: float) -> str | None:
    """None while the case is still this person's, at the version their page shows."""
    live_claim = item.claimed_by is not None and (item.claim_expires or 0.0) > now
    if item.status == "resolved":
        by = "you" if item.reviewer == subject else item.reviewer
        return f"This case was decided by {by} ({item.label}) while you had it open. {NOTHING_RECORDED}"
    if item.version == seen and live_claim and item.claimed_by == subject:
        return None
    if live_claim and item.claimed_by != subject:
        return f"Your claim ran out and {item.claimed_by} holds this case now. {NOTHING_RECORDED}"
    if item.version != seen and item.first_reviewer not in (None, subject):
        return (
            f"{item.first_reviewer} made the first decision on this case while you had it open; it now "
            f"waits for a second reviewer. {NOTHING_RECORDED}"
        )
    if item.version != seen and item.first_reviewer == subject:
        return "You made the first decision on this case; it now waits for a second reviewer."
    if not live_claim:
        return f"Your claim ran out and the case went back to the queue: claim it again to decide. {NOTHING_RECORDED}"
    return f"This case changed while you had it open: open it again. {NOTHING_RECORDED}"
