"""Views of the portal itself: account switching, health, and error pages that
reveal nothing internal (a 500 shows only its request id). Under the API prefix
an error is JSON, never a page: the packet core does not parse HTML."""

from __future__ import annotations

import logging
import unicodedata

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal import database_unavailable
from portal.access_log import log_value
from portal.request_id import current_request_id
from portal.tenancy import switch_account

logger = logging.getLogger("portal")

#: Where config/urls.py mounts every API.
API_PREFIX = "/api/"
_API_ERRORS = {
    400: "Bad request.",
    403: "Not allowed.",
    404: "No such API URL.",
    500: "Internal error; quote the request id when reporting it.",
}


@login_required
@require_POST
def switch_account_view(request):
    try:
        account_id = int(request.POST.get("account", ""))
    except ValueError:
        return HttpResponseBadRequest("Choose an account.")
    if not switch_account(request, account_id):
        return _error(request, "404.html", 404)
    return HttpResponseRedirect(_local_path(request, request.POST.get("next", "")))


def _local_path(request, target: str) -> str:
    """``target`` if it is a path on this host, else the endpoint list. Only a
    path is taken: never a URL name, another host, a scheme or control characters."""
    if (
        target.startswith("/")
        and not any(unicodedata.category(char)[0] == "C" for char in target)
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return reverse("inventory:endpoint_list")


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def _error(request, template: str, status: int, reason: str = ""):
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse(
            {"error": reason or _API_ERRORS[status], "request_id": current_request_id()},
            status=status,
        )
    context = {"request_id": current_request_id(), "reason": reason}
    try:
        return render(request, template, context, status=status)
    except Exception:
        # The page itself failed (the database is down, a context processor
        # broke): answer with a bare page rather than nothing, and log why.
        logger.exception(
            "Error page %s failed", template, extra={"request_id": current_request_id()}
        )
        return HttpResponse(
            _BARE_ERROR.format(status=status, request_id=escape(current_request_id())),
            status=status,
        )


_BARE_ERROR = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error {status}</title>'
    "</head><body><main><h1>Something went wrong ({status})</h1>"
    "<p>Quote request id <code>{request_id}</code> when you contact support.</p>"
    "</main></body></html>"
)


def bad_request(request, exception=None):
    return _error(request, "400.html", 400)


def permission_denied(request, exception=None):
    # Our own PermissionDenied messages are written for the user ("Only account
    # admins may terminate endpoints."); anything else gets the generic text.
    reason = str(exception) if isinstance(exception, PermissionDenied) else ""
    return _error(request, "403.html", 403, reason[:200])


def csrf_failure(request, reason=""):
    # ``reason`` is Django's internal wording; the user gets a plain instruction.
    return _error(
        request,
        "403.html",
        403,
        "The form had expired or came from another site. Reload the page and try again.",
    )


def page_not_found(request, exception=None):
    return _error(request, "404.html", 404)


def took_too_long(request):
    """A statement ran past DB_STATEMENT_TIMEOUT and PostgreSQL cancelled it; its
    transaction was rolled back (portal.statement_timeout)."""
    return _error(request, "503.html", 503)


def server_error(request):
    # A middleware that lost the database (the session, the signed-in user).
    unavailable = database_unavailable.current_exception_response(request)
    if unavailable is not None:
        return unavailable
    # The request id goes on the record itself (the formatter prints it), so a
    # handler without the request-id filter still carries it. The path is the
    # client's: quoted like the access log's, so it cannot add a field or a line.
    logger.error(
        "Server error method=%s path=%s",
        log_value(request.method),
        log_value(request.path),
        extra={"request_id": current_request_id()},
    )
    return _error(request, "500.html", 500)
