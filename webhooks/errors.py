"""What the delivery log says about a failed attempt: one of a fixed set of
error classes, with the HTTP status when there was one (docs/webhooks.md
"Delivery log").

Never the peer's bytes: a receiver that is not HTTP (a mail server, a message
broker greeting with a banner) would otherwise have its first bytes shown on
the webhook's page, in the API's ``disabled_reason`` and in the Django admin,
and the portal would be a port scanner for whoever can add a webhook. The
exception of a failed try is classified here and then dropped.
"""

from __future__ import annotations

import http.client
import socket
import ssl

from django.db import models


class ErrorClass(models.TextChoices):
    TIMEOUT = "timeout", "No complete answer within the time limit"
    DNS_FAILURE = "dns_failure", "The host name could not be resolved"
    ADDRESS_REFUSED = "address_refused", "The host is or resolves to a non-public address"
    INVALID_URL = "invalid_url", "The URL cannot be called"
    CONNECTION_REFUSED = "connection_refused", "Connection refused"
    CONNECTION_FAILED = "connection_failed", "The connection could not be made"
    CONNECTION_RESET = "connection_reset", "The connection closed before the answer was complete"
    TLS_ERROR = "tls_error", "TLS handshake or certificate failed"
    INVALID_HTTP_RESPONSE = "invalid_http_response", "The answer was not valid HTTP"
    TOO_LARGE = "too_large", "The answer's status line or headers were too large"
    HTTP_STATUS = "http_status", "The answer's status was not 2xx"
    REDIRECT = "redirect", "A redirect (not followed)"
    INTERNAL_ERROR = "internal_error", "The attempt failed in the portal"
    # Rows logged before errors were classified (migration 0007).
    UNCLASSIFIED = "unclassified", "Failed (no detail kept)"


def label(code: str) -> str:
    """What the log shows for ``code`` (nothing for a successful attempt)."""
    if not code:
        return ""
    try:
        return ErrorClass(code).label
    except ValueError:
        return ErrorClass.UNCLASSIFIED.label


def describe(code: str, status: int | None) -> str:
    """One line for a failure, as ``disabled_reason`` says it: the status
    when there was one, else the class's label."""
    if status is not None:
        return f"HTTP {status}"
    return label(code)


def classify(exc: BaseException) -> ErrorClass:
    """The class of the exception a try ended with (its message is not read,
    except for the library's own wording of too many headers)."""
    from webhooks import ssrf

    if isinstance(exc, ssrf.UnsafeURL):
        return ErrorClass(exc.kind)
    if isinstance(exc, TimeoutError | socket.timeout):
        return ErrorClass.TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return ErrorClass.CONNECTION_REFUSED
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return ErrorClass.TLS_ERROR
    if isinstance(exc, ConnectionError | http.client.IncompleteRead):
        return ErrorClass.CONNECTION_RESET  # RemoteDisconnected included
    if isinstance(exc, http.client.LineTooLong):
        return ErrorClass.TOO_LARGE
    if isinstance(exc, http.client.InvalidURL | UnicodeError):
        return ErrorClass.INVALID_URL
    if type(exc) is http.client.HTTPException and str(exc).startswith("got more than"):
        return ErrorClass.TOO_LARGE  # http.client's "got more than 100 headers"
    if isinstance(exc, http.client.HTTPException):
        return ErrorClass.INVALID_HTTP_RESPONSE
    if isinstance(exc, socket.gaierror):
        return ErrorClass.DNS_FAILURE
    if isinstance(exc, OSError):
        return ErrorClass.CONNECTION_FAILED
    return ErrorClass.INTERNAL_ERROR
