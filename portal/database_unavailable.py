"""The database is away (a restart, a failover, connections exhausted): a 503
that says "try again in a moment", never a 500 with a traceback.

Which failures count: the connection could not be made, or broke under a
statement (psycopg reports both without an SQLSTATE, or with class 08), the
server is shutting down or starting up (57P01, 57P02, 57P03), or it has no
connection slot left (53300); and Django's InterfaceError for a connection
already closed. A statement the server refused for its own reasons (a timeout, a
lock, a constraint) is not "unavailable" and keeps its own handling.

The answer depends on who asked: the portal's own page for a browser, JSON with
``Retry-After`` for the network API (the packet core retries) and the customer
API (``api.middleware`` turns it into a problem document). Each such request
writes one WARNING line: its access-log line (``portal.access_log``), with
``db=unavailable`` and the driver's one-line reason; no traceback.

Exceptions raised in a view reach ``DatabaseUnavailableMiddleware``; those
raised in a middleware (the session, the signed-in user) reach Django's 500
handler, which asks ``response_for`` first (``portal.views.server_error``).
"""

from __future__ import annotations

import sys

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from portal import replicas
from portal.access_log import annotate
from portal.metrics import database_errors
from portal.request_id import current_request_id

#: SQLSTATEs of a server that is going away, coming back or full.
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300"}
#: Where config/urls.py mounts the APIs (both answer JSON, never a page).
API_PREFIX = "/api/"

API_MESSAGE = (
    "The database is unavailable for a moment; nothing was applied. "
    "Send the request again after Retry-After seconds."
)


def retry_after() -> int:
    return int(getattr(settings, "DATABASE_RETRY_AFTER", 5))


def is_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be reached at all (not that it
    refused one statement)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, InterfaceError):
            return True
        if isinstance(exc, OperationalError):
            cause = exc.__cause__
            if not isinstance(cause, psycopg.Error):
                return False
            state = cause.sqlstate
            # psycopg gives no SQLSTATE when the socket itself failed
            # ("connection refused", "server closed the connection").
            return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES
        exc = exc.__cause__
        seen += 1
    return False


def _reason(exc: BaseException) -> str:
    """The driver's message, first line only (it may hold several)."""
    text = str(exc.__cause__ or exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def response_for(request, exc: BaseException) -> HttpResponse | None:
    """The 503 for ``request`` if ``exc`` means the database is unavailable."""
    if not is_unavailable(exc):
        return None
    if not getattr(request, "_database_unavailable", False):
        # Once per request: an outer middleware may meet the same failure again.
        database_errors.inc()
    replicas.forget_checks()  # perhaps it was a replica: ask them all again
    request._database_unavailable = True
    annotate(request, db="unavailable", reason=_reason(exc))
    seconds = str(retry_after())
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse(
            {"error": API_MESSAGE, "request_id": current_request_id()}, status=503
        )
    else:
        # Rendered without the request: the context processors would ask the
        # database who is signed in.
        page = render_to_string(
            "database_unavailable.html",
            {"request_id": current_request_id(), "retry_after": seconds},
        )
        response = HttpResponse(page, status=503)
    response["Retry-After"] = seconds
    response["Cache-Control"] = "no-store"
    # Django would log it again as "Service Unavailable" (its own ERROR line).
    response._has_been_logged = True
    return response


def current_exception_response(request) -> HttpResponse | None:
    """``response_for`` the exception being handled, for Django's 500 handler."""
    return response_for(request, sys.exc_info()[1])


class DatabaseUnavailableMiddleware:
    """Turns a view's lost database into the 503 of ``response_for``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return response_for(request, exception)
