"""The kit's roles and the identity a verified token gives.

| role | may |
|---|---|
| caller | POST /predict (when the stack requires a token for it) |
| reviewer | list, open (decrypted features), claim and resolve reviews |
| second-reviewer | as reviewer; the second pair of eyes on high-stakes cases |
| auditor | list reviews and read audit metadata, never decrypted features |
| admin | everything a reviewer may, and settle escalated cases |
"""

from __future__ import annotations

from dataclasses import dataclass

from slipway.errors import SlipwayError

CALLER, REVIEWER, SECOND_REVIEWER, AUDITOR, ADMIN = "caller", "reviewer", "second-reviewer", "auditor", "admin"
ROLES = (CALLER, REVIEWER, SECOND_REVIEWER, AUDITOR, ADMIN)


class Forbidden(SlipwayError):
    """A verified subject without the role the action needs (HTTP 403)."""

    exit_code = 1


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    name: str
    roles: frozenset[str]
    token_id: str

    def require(self, *roles: str) -> None:
        if not self.roles & set(roles):
            held = ", ".join(sorted(self.roles)) or "none"
            raise Forbidden(f"{self.subject} needs one of the roles {', '.join(roles)} (holds: {held})")

    def audit_fields(self) -> dict[str, str]:
        """Who acted, as every audit entry records it."""
        return {"issuer": self.issuer, "subject": self.subject, "name": self.name, "token_id": self.token_id}
