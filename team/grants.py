"""What a member handed out follows their membership (docs/team.md "What a
member's tokens and invitations owe to their membership").

An API token and an invitation act with the rights of the admin who made them:
a token never has more than its creator's role, an invitation never offers
more. That stays true after the creator's role changes:

- **removed** from the account (by an admin, by support, or with their user):
  every live token they created is revoked, every pending invitation they sent
  is revoked;
- **demoted**: their live tokens above the new role are lowered to it (an
  integration keeps what its creator may still do), their pending invitations
  above it are revoked (an invitation promised a role in its e-mail; it is not
  quietly changed to another).

``follow_membership`` is called by every membership change (team/members.py,
Django admin in portal/admin.py) inside that change's transaction: two UPDATEs
over the creator's rows, one audit row per token and invitation touched (one
INSERT), all committed or rolled back with the membership change. The token's
use (api/auth.py) and the invitation's acceptance (team/invitations.py) check
the creator's membership again, in case a change ever bypassed this function.

The token model lives in the API app beside its screens; this module imports
the model only.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, When
from django.http import HttpRequest
from django.utils import timezone

import audit
from api.models import ApiToken, RevokedBecause
from audit.models import AuditAction
from portal.models import Account, Role
from team.models import Invitation, InvitationRevoked


@dataclass(frozen=True)
class Followed:
    """What one membership change did to the member's tokens and invitations."""

    tokens_revoked: int = 0
    tokens_lowered: int = 0
    invitations_revoked: int = 0

    def __bool__(self) -> bool:
        return bool(self.tokens_revoked or self.tokens_lowered or self.invitations_revoked)

    def sentence(self, username: str) -> str:
        """For the message shown to the admin who made the change."""
        parts = []
        if self.tokens_revoked:
            parts.append(f"{_count(self.tokens_revoked, 'API token')} revoked")
        if self.tokens_lowered:
            parts.append(f"{_count(self.tokens_lowered, 'API token')} lowered to the new role")
        if self.invitations_revoked:
            parts.append(f"{_count(self.invitations_revoked, 'pending invitation')} revoked")
        return f"What {username} created: " + ", ".join(parts) + "."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _above(role: Role | None) -> list[str]:
    """The roles higher than ``role`` (every role when None: no membership)."""
    rank = -1 if role is None else role.rank
    return [r.value for r in Role if r.rank > rank]


def follow_membership(
    *,
    account: Account,
    user: AbstractBaseUser,
    role: Role | str | None,
    request: HttpRequest | None = None,
    actor=None,
) -> Followed:
    """Bring ``user``'s tokens and invitations in ``account`` in line with their
    new ``role`` (None: no longer a member). Call it inside the transaction of
    the membership change; ``request``/``actor`` name who made the change, for
    the audit rows."""
    role = Role(role) if role else None
    now = timezone.now()
    above = _above(role)
    creator = user.get_username()
    tokens = ApiToken.objects.filter(
        account=account, created_by=user, revoked_at__isnull=True, role__in=above
    )
    invitations = Invitation.objects.filter(
        account=account,
        invited_by=user,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        role__in=above,
    )
    # Locked in id order, so a concurrent revocation or acceptance of the same
    # rows waits for this change (or this change for it) instead of deadlocking.
    touched_tokens = list(
        tokens.select_for_update().order_by("pk").values_list("pk", "name", "role")
    )
    touched_invitations = list(
        invitations.select_for_update().order_by("pk").values_list("pk", "email", "role")
    )
    token_ids = [pk for pk, _, _ in touched_tokens]
    if role is None:
        ApiToken.objects.filter(pk__in=token_ids).update(
            revoked_at=now, revoked_because=RevokedBecause.CREATOR_REMOVED
        )
        audit.record_many(
            action=AuditAction.API_TOKEN_REVOKED,
            account=account,
            request=request,
            actor=actor,
            rows=[
                (name, {"token": pk, "reason": RevokedBecause.CREATOR_REMOVED, "creator": creator})
                for pk, name, _ in touched_tokens
            ],
        )
    else:
        # The first lowering keeps the role the token was made with.
        ApiToken.objects.filter(pk__in=token_ids).update(
            role=role.value,
            capped_from=Case(When(capped_from="", then="role"), default="capped_from"),
        )
        audit.record_many(
            action=AuditAction.API_TOKEN_ROLE_LOWERED,
            account=account,
            request=request,
            actor=actor,
            rows=[
                (name, {"token": pk, "from": old, "to": role.value, "creator": creator})
                for pk, name, old in touched_tokens
            ],
        )
    because = (
        InvitationRevoked.CREATOR_REMOVED if role is None else InvitationRevoked.CREATOR_DEMOTED
    )
    Invitation.objects.filter(pk__in=[pk for pk, _, _ in touched_invitations]).update(
        revoked_at=now, revoked_because=because
    )
    audit.record_many(
        action=AuditAction.INVITATION_WITHDRAWN,
        account=account,
        request=request,
        actor=actor,
        rows=[
            (email, {"role": invited_role, "reason": because.value, "creator": creator})
            for _, email, invited_role in touched_invitations
        ],
    )
    return Followed(
        tokens_revoked=len(touched_tokens) if role is None else 0,
        tokens_lowered=0 if role is None else len(touched_tokens),
        invitations_revoked=len(touched_invitations),
    )
