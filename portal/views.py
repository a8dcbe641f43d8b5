"""Views of the portal itself: account switching, health, and error pages that
reveal nothing internal (a 500 shows only its request id)."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.request_id import current_request_id
from portal.tenancy import switch_account

logger = logging.getLogger("portal")


@login_required
@require_POST
def switch_account_view(request):
    try:
        account_id = int(request.POST.get("account", ""))
    except ValueError:
        return HttpResponseBadRequest("Choose an account.")
    if not switch_account(request, account_id):
        return render(request, "404.html", status=404)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "inventory:endpoint_list"
    return redirect(target)


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def _error(request, template: str, status: int):
    return render(request, template, {"request_id": current_request_id()}, status=status)


def bad_request(request, exception=None):
    return _error(request, "400.html", 400)


def permission_denied(request, exception=None):
    return _error(request, "403.html", 403)


def page_not_found(request, exception=None):
    return _error(request, "404.html", 404)


def server_error(request):
    logger.error("Server error on %s %s", request.method, request.path)
    return _error(request, "500.html", 500)
