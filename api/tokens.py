"""Creating and revoking API tokens: the one place that does either, for the
account page, the management command and Django admin alike.

A token is ``epk_`` followed by 43 URL-safe characters (256 random bits). The
prefix tells it from the packet core's network tokens at a glance; the two are
stored in different tables, so neither is ever accepted where the other is.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiToken, RevokedBecause
from portal.models import Account, Member, Role

TOKEN_PREFIX = "epk_"
#: How much of the token the lists show.
SHOWN_PREFIX = 10
#: Longer than any token we issue; anything longer is refused without hashing.
MAX_TOKEN_LENGTH = 128


class TokenRefused(ValueError):
    """The token was not created; the message says why, for the form or command,
    and ``field`` which of the form's fields it is about (None: the whole form)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *,
    account: Account,
    name: str,
    role: Role | str,
    created_by: AbstractBaseUser | None,
    creator_role: Role | str | None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token of ``account`` with ``role``; returns it with the plain token,
    which the caller shows once. ``creator_role`` is the creating member's role
    (None for staff): a token never gets more than it."""
    name = name.strip()
    if not name:
        raise TokenRefused("Give the token a name.", field="name")
    role = Role(role)
    if creator_role is not None and role.rank > Role(creator_role).rank:
        raise TokenRefused(
            f"A token cannot have more rights than you: your role is {Role(creator_role).label}.",
            field="role",
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenRefused("The expiry must be in the future.", field="expires_on")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            if created_by is not None and creator_role is not None:
                _lock_creator(account=account, user=created_by, role=role)
            token = ApiToken.objects.create(
                account=account,
                name=name,
                role=role,
                token_hash=hash_token(plain),
                prefix=plain[:SHOWN_PREFIX],
                created_by=created_by,
                created_by_label=created_by.get_username() if created_by else "support",
                expires_at=expires_at,
            )
    except IntegrityError as exc:
        raise TokenRefused(
            f"This account already has a token named “{name}”.", field="name"
        ) from exc
    return token, plain


def _lock_creator(*, account: Account, user: AbstractBaseUser, role: Role) -> None:
    """The creating member's row, locked: a removal or demotion of the creator
    happening now either waits for this token (and then revokes or lowers it,
    team/grants.py) or has happened, and the token is refused."""
    held = (
        Member.objects.select_for_update()
        .filter(account=account, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if held is None or Role(held) != Role.ADMIN:
        raise TokenRefused("Only an admin of the account may create tokens.")
    if Role(held).rank < role.rank:
        raise TokenRefused(
            f"A token cannot have more rights than you: your role is {Role(held).label}."
        )


def revoke_token(*, token: ApiToken, because: RevokedBecause = RevokedBecause.ADMIN) -> bool:
    """Revoke ``token`` from the next request on; False if it already was."""
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_because=because
    )
    if revoked:
        token.revoked_at = now
        token.revoked_because = because
    return bool(revoked)
