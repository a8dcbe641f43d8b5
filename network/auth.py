"""Who may call the network API: the provider's packet core, by bearer token.

Tokens belong to the provider, not to an account, and only their SHA-256 is
stored (``network.tokens``). A token is looked up on every request, so that
disabling one in Django admin takes effect at once; its ``last_used_at`` is
written at most once a minute, so that a core posting ten batches a second does
not turn every request into an extra UPDATE of the same row.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from inventory.models import NetworkToken
from network.tokens import hash_token

#: How stale ``last_used_at`` may get before a request refreshes it.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_SCHEME = "bearer"
#: Longer than any token we issue; anything longer is refused unhashed.
_MAX_TOKEN_LENGTH = 256


def bearer_token(request: HttpRequest) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or ""."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token or len(token) > _MAX_TOKEN_LENGTH:
        return ""
    return token


def authenticate(request: HttpRequest) -> NetworkToken | None:
    """The enabled token the request presents, or None (the caller answers 401)."""
    token = bearer_token(request)
    if not token:
        return None
    found = NetworkToken.objects.filter(token_hash=hash_token(token), enabled=True).first()
    if found is None:
        return None
    now = timezone.now()
    if found.last_used_at is None or found.last_used_at <= now - LAST_USED_RESOLUTION:
        # Conditional, so that two workers refreshing at once write it once.
        NetworkToken.objects.filter(pk=found.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        found.last_used_at = now
    return found
