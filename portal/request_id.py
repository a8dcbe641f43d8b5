"""A request id on every request and every log line, so a 500 or a bulk action
can be traced from the log to the user who caused it."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# Matched whole (fullmatch): ``$`` would let a trailing newline into every log line.
_INCOMING = re.compile(r"[A-Za-z0-9._-]{8,64}")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    """Puts the current request id on every record. Django logs a 4xx answer
    ("Not Found: /x") after the middleware has finished, so there the id comes
    from the request the record carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id == "-":
            request = getattr(record, "request", None)
            request_id = (
                getattr(record, "request_id", None) or getattr(request, "request_id", None) or "-"
            )
        record.request_id = request_id
        return True


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the proxy or makes one; echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response
