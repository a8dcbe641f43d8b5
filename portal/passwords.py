"""Changing and resetting passwords: Django's auth views with our templates,
a limit on reset requests, and an audit row for each change (docs/team.md).

A reset request is answered the same way whether or not the address belongs
to a user (Django's view already sends nothing for an unknown one), so the
form cannot be used to find out who has a user. Requests are counted in
Django's cache per client address and per e-mail address: past the address's
limit the answer is still the same "check your e-mail" page but nothing more
is sent (the mailbox is not flooded); past the client's limit the form answers
429. Both counts are kept whatever the address, so they reveal nothing either.

Changing or resetting a password changes the session hash Django keeps in
every session, so every other signed-in session of the user ends at its next
request; the change view keeps the current session signed in.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.shortcuts import render
from django.urls import reverse_lazy

import audit
from audit.events import AuditActor
from audit.models import AuditAction, AuditActorKind
from portal import links
from portal.client_ip import client_ip

#: Reset requests allowed per window, from one client address and for one e-mail address.
RESETS_PER_CLIENT = 10
RESETS_PER_ADDRESS = 3
RESET_WINDOW_SECONDS = 60 * 60


def _counted(key: str) -> int:
    """Count one more request under ``key`` in the current window; return the count."""
    if cache.add(key, 1, timeout=RESET_WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=RESET_WINDOW_SECONDS)
        return 1


def reset_allowed_from(*, ip: str | None) -> bool:
    """Whether the client at ``ip`` may ask for another reset now (counts it)."""
    return _counted(f"password-reset:ip:{ip or 'unknown'}") <= RESETS_PER_CLIENT


def reset_mail_allowed(*, email: str) -> bool:
    """Whether another reset e-mail may go to ``email`` now (counts it)."""
    digest = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    return _counted(f"password-reset:address:{digest}") <= RESETS_PER_ADDRESS


def _audit_request(request, form, *, email: str, mailed: bool) -> None:
    """One row per user the reset would mail (Django's ``get_users``: active,
    with a usable password), on that user, so the admins of their accounts see
    who asked from where; for an address no such user has, one row with no
    actor, which only staff see. The answer to the client is the same either
    way."""
    users = list(form.get_users(email))
    for user in users:
        audit.record(
            action=AuditAction.PASSWORD_RESET_REQUESTED,
            account=None,
            request=request,
            actor=user,
            target=email,
            details={"mailed": mailed},
        )
    if not users:
        audit.record(
            action=AuditAction.PASSWORD_RESET_REQUESTED,
            account=None,
            request=request,
            actor=AuditActor(kind=AuditActorKind.USER, label=""),
            target=email,
            details={"mailed": False},
        )


class PasswordResetView(auth_views.PasswordResetView):
    success_url = reverse_lazy("password_reset_done")

    def post(self, request, *args, **kwargs):
        if not reset_allowed_from(ip=client_ip(request)):
            return render(request, "registration/password_reset_limited.html", status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        mailed = reset_mail_allowed(email=email)
        _audit_request(self.request, form, email=email, mailed=mailed)
        if not mailed:
            # The same answer as a sent e-mail: nothing tells the limit from a send.
            return auth_views.HttpResponseRedirect(self.get_success_url())
        # The link's origin is PORTAL_BASE_URL, not the request's Host (portal/links.py).
        self.extra_email_context = {"base_url": links.base_url(self.request)}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(
            action=AuditAction.PASSWORD_RESET, account=None, request=self.request, actor=form.user
        )
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(action=AuditAction.PASSWORD_CHANGED, account=None, request=self.request)
        return response
