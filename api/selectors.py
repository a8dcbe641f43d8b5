"""Reading an account's API tokens for the tokens page: filtered, newest first
(docs/api.md "Tokens"). Every query starts from the account."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from api.forms import LastUsed
from api.models import ApiToken
from portal.models import Account


def creators(*, account: Account) -> list[str]:
    """The names that created the account's tokens, for the creator filter."""
    return list(
        ApiToken.objects.filter(account=account)
        .order_by("created_by_label")
        .values_list("created_by_label", flat=True)
        .distinct()
    )


def account_tokens(
    *, account: Account, role: str = "", creator: str = "", used: str = "", days: int = 30
) -> QuerySet[ApiToken]:
    """``account``'s tokens, newest first (a unique tie-breaker on id), with
    the given role, creator's name and last use: ``never``, ``recent`` (within
    ``days``) or ``stale`` (used, but not within ``days``)."""
    tokens = ApiToken.objects.filter(account=account)
    if role:
        tokens = tokens.filter(role=role)
    if creator:
        tokens = tokens.filter(created_by_label=creator)
    cutoff = timezone.now() - timedelta(days=days)
    if used == LastUsed.NEVER:
        tokens = tokens.filter(last_used_at__isnull=True)
    elif used == LastUsed.RECENT:
        tokens = tokens.filter(last_used_at__gte=cutoff)
    elif used == LastUsed.STALE:
        tokens = tokens.filter(last_used_at__lt=cutoff)
    return tokens.order_by("-created_at", "-pk")
