"""The state between the password step and the code step of sign-in.

After a right password, a user with two-factor on is *not* signed in: the
session holds only who passed the password (and when), and
``django.contrib.auth`` sees an anonymous visitor until the code step calls
``complete``. The pending state lasts ``TWO_FACTOR_PENDING_SECONDS`` and ends
when the user's password changes. A wrong code counts as a failed sign-in for
django-axes (same username and address as the password step), so the lockout
covers both steps together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.signals import user_login_failed
from django.utils.crypto import constant_time_compare

PENDING_KEY = "two_factor_pending"


@dataclass(frozen=True)
class Pending:
    user: object
    backend: str
    next_url: str


def begin(request, *, user, next_url: str) -> None:
    """Remember that ``user`` gave the right password; the session stays anonymous."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "hash": user.get_session_auth_hash(),
        "at": time.time(),
        "next": next_url,
    }


def pending(request) -> Pending | None:
    """Who is between the steps, or None (never begun, expired, password changed)."""
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    if time.time() - state.get("at", 0) > settings.TWO_FACTOR_PENDING_SECONDS:
        cancel(request)
        return None
    user = auth.get_user_model().objects.filter(pk=state.get("user"), is_active=True).first()
    if user is None or not constant_time_compare(
        user.get_session_auth_hash(), state.get("hash", "")
    ):
        cancel(request)
        return None
    return Pending(user=user, backend=state["backend"], next_url=state.get("next", ""))


def cancel(request) -> None:
    request.session.pop(PENDING_KEY, None)


def credentials(user) -> dict:
    """What django-axes keys a failure on: the same username as the password step."""
    return {"username": user.get_username()}


def locked_out(request, user):
    """django-axes' lockout page when this username and address are locked, else None."""
    if AxesProxyHandler.is_locked(request, credentials(user)):
        return get_lockout_response(request, None, credentials(user))
    return None


def failed(request, user) -> None:
    """A wrong code: a failed sign-in for django-axes (which may lock out now)."""
    user_login_failed.send(sender=__name__, credentials=credentials(user), request=request)


def complete(request, *, state: Pending, device) -> None:
    """Sign the user in, verified by ``device`` (a new session key; axes resets
    the failures of this username and address)."""
    cancel(request)
    auth.login(request, state.user, backend=state.backend)
    django_otp.login(request, device)
