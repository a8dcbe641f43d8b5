"""One structured log line per request: who did what, in which account, how it
ended and how long it took, tied to the request id that the error page shows.

Operations trace a complaint ("my 1,204 endpoints were suspended") from the
request id or the user to the request, and a bulk action adds its counts to the
same line through ``annotate``. The line is ``key=value`` pairs, with values that
contain spaces, quotes or control characters JSON-quoted, so a crafted path or
username can neither forge a second line nor a field of this one (and the
formatter, ``portal.log_lines``, escapes whatever else reaches a line). A reset
or invitation token in the path is written as ``REDACTED`` (portal/secret_paths.py).
"""

from __future__ import annotations

import json
import logging
import re
import time

from django.utils.functional import empty

from portal.client_ip import client_ip
from portal.request_id import current_request_id
from portal.secret_paths import redact

logger = logging.getLogger("portal.request")

# Matched whole (fullmatch): ``$`` would also match before a trailing newline.
_PLAIN = re.compile(r"[\w./:@+,=-]*")
_MAX_VALUE = 200
_ANNOTATIONS = "_access_log_fields"


def annotate(request, **fields: object) -> None:
    """Add fields (e.g. ``action="suspend", changed=1204, skipped=3``) to this
    request's log line."""
    extra = getattr(request, _ANNOTATIONS, None)
    if extra is None:
        extra = {}
        setattr(request, _ANNOTATIONS, extra)
    extra.update(fields)


def log_value(value: object) -> str:
    """``value`` as one field of a ``key=value`` line: plain when it is made of
    word characters and ``./:@+,=-`` only, JSON-quoted otherwise, cut at 200."""
    text = "-" if value is None or value == "" else str(value)
    if len(text) > _MAX_VALUE:
        text = text[:_MAX_VALUE] + "…"
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def _evaluated(lazy) -> object | None:
    """The object behind a SimpleLazyObject if something already asked for it.

    The log never evaluates ``request.account`` itself: that would add a query
    to requests (static files, the API, sign-in) that never needed one."""
    wrapped = getattr(lazy, "_wrapped", lazy)
    return None if wrapped is empty else wrapped


def _user(request) -> str:
    user = getattr(request, "user", None)
    if user is None or getattr(request, "_database_unavailable", False):
        # Asking who signed in would ask the database that just failed.
        return "-"
    # Resolving the user reads the session only when a session cookie came.
    return user.get_username() if user.is_authenticated else "anonymous"


def _account(request) -> str:
    account = _evaluated(getattr(request, "account", None))
    if account is None:
        member = _evaluated(getattr(request, "member", None))
        account = getattr(member, "account", None)
    return getattr(account, "slug", None) or "-"


class AccessLogMiddleware:
    """Logs ``method path status duration_ms user account ip`` (plus annotations)
    for every request that reaches Django. Sits inside RequestIdMiddleware so
    the request id is known, and outside authentication and tenancy, whose
    results it reads after the view ran."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        request_id = getattr(request, "request_id", None) or current_request_id()
        fields: dict[str, object] = {
            "method": request.method,
            "path": redact(request.path),
            "status": response.status_code,
            "duration_ms": f"{duration_ms:.1f}",
            "user": _user(request),
            "account": _account(request),
            "ip": client_ip(request),
        }
        fields.update(getattr(request, _ANNOTATIONS, {}))
        if response.status_code == 503:
            # Try again: the database was away, or a statement was cut off
            # (that one logs its own error with the statement).
            level = logging.WARNING
        elif response.status_code >= 500:
            level = logging.ERROR
        else:
            level = logging.INFO
        logger.log(
            level,
            " ".join(f"{key}={log_value(value)}" for key, value in fields.items()),
            extra={"request_id": request_id, "access": fields},
        )
        return response
