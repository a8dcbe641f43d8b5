"""Two-factor screens: the code step of sign-in (``/login/code/``) and the
user's own Security page (``/account/security/``), where an account admin also
decides whether the account requires two-factor of its members."""

from __future__ import annotations

from urllib.parse import urlsplit

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

import audit
from audit.models import AuditAction
from portal.models import Role
from portal.tenancy import member_required
from portal.two_factor import devices, enforcement, signin
from portal.two_factor.enforcement import enrolment_view, two_factor_exempt
from portal.two_factor.forms import CodeForm, RequireForm
from portal.two_factor.qr import svg
from portal.two_factor.recovery import RecoveryCodes

WRONG_CODE = (
    "That code is not valid. Use the current code from your authenticator app "
    "(each code works once), or an unused recovery code."
)
WRONG_FRESH_CODE = (
    "That code is not valid. Give the current code from your authenticator app "
    "(each code works once)."
)


class SignInView(LoginView):
    """The password step. A user with two-factor on is not signed in here: the
    code step (``login_code``) does it."""

    def get_redirect_url(self) -> str:
        # Django accepts any URL on our host, a relative one ("0") included;
        # only a path is followed, as on the account switch. Never back to the
        # sign-in page itself: signed in, Django would see a redirect loop (a 500).
        url = super().get_redirect_url()
        if not url.startswith("/") or urlsplit(url).path == self.request.path:
            return ""
        return url

    def form_valid(self, form):
        user = form.get_user()
        if devices.has_two_factor(user):
            signin.begin(self.request, user=user, next_url=self.get_success_url())
            return redirect("login_code")
        return super().form_valid(form)


@two_factor_exempt
@never_cache
def login_code(request):
    """The code step: an authenticator code or a recovery code."""
    state = signin.pending(request)
    if state is None:
        messages.info(request, "Sign in with your username and password first.")
        return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        locked = signin.locked_out(request, state.user)
        if locked is not None:
            return locked
        if form.is_valid():
            device = devices.verify_code(user=state.user, code=form.cleaned_data["code"])
            if device is not None:
                signin.complete(request, state=state, device=device)
                if isinstance(device, RecoveryCodes):
                    audit.record(
                        action=AuditAction.MFA_RECOVERY_CODE_USED,
                        account=None,
                        request=request,
                        actor=state.user,
                        details={"left": device.remaining()},
                    )
                    messages.warning(
                        request,
                        f"You signed in with a recovery code; {device.remaining()} left. "
                        "Make new ones on the Security page.",
                    )
                return HttpResponseRedirect(
                    state.next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
                )
            # django-axes may lock out now; its middleware then answers instead.
            signin.failed(request, state.user)
            form.add_error("code", WRONG_CODE)
    return render(request, "two_factor/login_code.html", {"form": form})


@enrolment_view
@login_required
def overview(request):
    """Two-factor status, enrolment in progress, and the account's requirement."""
    user = request.user
    device = devices.authenticator(user)
    enrolling = None if device else devices.pending_enrolment(user)
    member = request.member
    context = {
        "enabled": device is not None,
        "enrolling": enrolling,
        "codes_left": devices.recovery_codes_left(user) if device else 0,
        "required_by": enforcement.required_by(request),
        "may_require": bool(member) and member.has_role(Role.ADMIN),
        "form": CodeForm(),
    }
    if enrolling is not None:
        context["qr"] = svg(
            enrolling.config_url, label="QR code to add this account to an authenticator app"
        )
        context["secret"] = devices.secret_text(enrolling)
    return render(request, "two_factor/security.html", context)


@enrolment_view
@login_required
@require_POST
def enrol(request):
    if devices.start_enrolment(user=request.user) is None:
        messages.info(request, "Two-factor sign-in is already on.")
    return redirect("security:overview")


@enrolment_view
@login_required
@require_POST
def confirm(request):
    form = CodeForm(request.POST)
    enrolled = form.is_valid() and devices.confirm_enrolment(
        user=request.user, code=form.cleaned_data["code"]
    )
    if not enrolled:
        messages.error(request, WRONG_FRESH_CODE)
        return redirect("security:overview")
    # This session passed the second factor: it stays signed in.
    django_otp.login(request, enrolled.device)
    audit.record(action=AuditAction.MFA_ENABLED, account=None, request=request)
    return _show_codes(request, enrolled.recovery_codes, first=True)


@login_required
@require_POST
def recovery_codes(request):
    form = CodeForm(request.POST)
    codes = form.is_valid() and devices.regenerate_recovery_codes(
        user=request.user, code=form.cleaned_data["code"]
    )
    if not codes:
        messages.error(request, WRONG_FRESH_CODE)
        return redirect("security:overview")
    return _show_codes(request, codes, first=False)


def _show_codes(request, codes: list[str], *, first: bool):
    # Shown in this response only (no redirect): they are stored hashed.
    return render(request, "two_factor/recovery_codes.html", {"codes": codes, "first": first})


@login_required
@require_POST
def disable(request):
    required_by = enforcement.required_by(request)
    if required_by:
        messages.error(
            request,
            f"{required_by[0].name} requires two-factor sign-in of its members: "
            "it cannot be turned off.",
        )
        return redirect("security:overview")
    form = CodeForm(request.POST)
    if form.is_valid() and devices.disable(user=request.user, code=form.cleaned_data["code"]):
        audit.record(action=AuditAction.MFA_DISABLED, account=None, request=request)
        messages.success(request, "Two-factor sign-in is off.")
    else:
        messages.error(request, WRONG_FRESH_CODE)
    return redirect("security:overview")


@member_required(Role.ADMIN)
@require_POST
def require(request):
    """Require (or stop requiring) two-factor of every member of the current account."""
    form = RequireForm(request.POST)
    form.is_valid()  # a checkbox: always valid
    required = form.cleaned_data["require_mfa"]
    if required and not devices.has_two_factor(request.user):
        messages.error(request, "Turn two-factor sign-in on for yourself first.")
        return redirect("security:overview")
    enforcement.set_account_requirement(
        account=request.account, required=required, actor=request.user
    )
    audit.record(
        action=AuditAction.MFA_REQUIREMENT_CHANGED,
        account=request.account,
        request=request,
        details={"required": required},
    )
    account = request.account.name
    messages.success(
        request,
        f"{account} now requires two-factor sign-in of every member."
        if required
        else f"{account} no longer requires two-factor sign-in.",
    )
    return redirect("security:overview")
