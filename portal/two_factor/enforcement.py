"""Who may use a session that has not passed the second factor.

Every view runs behind ``TwoFactorMiddleware`` unless marked
``two_factor_exempt`` (sign-in, its code step, sign-out, /healthz); the views of
setting it up are marked ``enrolment_view``.
For a signed-in user whose session is not verified by a device:

- a user with two-factor on is signed out and sent to sign in again: such a
  session began before they turned it on (in another browser) or through a
  sign-in that skipped the code step;
- a member of an account that requires two-factor (``Account.require_mfa``;
  any of their accounts) is sent to enrolment and reaches nothing else until
  it is confirmed.

The API under ``/api/`` authenticates by token, not by session, and is not
concerned.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse

from portal.models import Account
from portal.tenancy import memberships
from portal.two_factor import devices

API_PREFIX = "/api/"


def two_factor_exempt(view):
    """Mark ``view`` as reachable without the second factor (signing in and out)."""
    view.two_factor_exempt = True
    return view


def enrolment_view(view):
    """Mark ``view`` as part of setting two-factor up: open to a member whose
    account requires it and who has not set it up yet."""
    view.two_factor_enrolment = True
    return view


def required_by(request) -> list:
    """The user's accounts that require two-factor sign-in of their members."""
    return [member.account for member in memberships(request) if member.account.require_mfa]


def _has_two_factor(request) -> bool:
    # Read from the memberships every page loads anyway (no query of its own);
    # a user without any account is asked directly.
    members = memberships(request)
    if members:
        return members[0].user_two_factor
    return devices.has_two_factor(request.user)


def _redirect(request, url: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        # An HTMX request follows a plain redirect inside its fragment; the
        # whole page has to go.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "two_factor_exempt", False) or request.path_info.startswith(
            API_PREFIX
        ):
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if _has_two_factor(request):
            next_path = request.get_full_path()
            logout(request)
            messages.info(request, "Sign in again with your authentication code.")
            return _redirect(request, redirect_to_login(next_path)["Location"])
        if required_by(request) and not getattr(view_func, "two_factor_enrolment", False):
            messages.info(
                request,
                "Your account requires two-factor sign-in. Set it up to continue.",
            )
            return _redirect(request, reverse("security:overview"))
        return None


def set_account_requirement(*, account, required: bool, actor) -> bool:
    """Require (or not) two-factor sign-in of every member of ``account``.
    Returns whether the setting changed. ``actor`` is the account admin deciding."""
    changed = (
        Account.objects.filter(pk=account.pk)
        .exclude(require_mfa=required)
        .update(require_mfa=required)
    )
    account.require_mfa = required
    return bool(changed)
