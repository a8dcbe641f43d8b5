"""Errors as RFC 9457 problem details (``application/problem+json``), for every
answer of the customer API that is not a success: our own refusals, schema
validation (422 with the path of each field), authentication (401 with
``WWW-Authenticate``), rate limits (429 with ``Retry-After``), unknown routes and
methods, and unexpected failures (500 with the request id, nothing internal).

``type`` is a stable URI per kind of problem, documented in docs/api.md; clients
branch on it (or on ``status``), never on ``title`` or ``detail``.
"""

from __future__ import annotations

import json
import logging

from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from portal import database_unavailable
from portal.request_id import current_request_id

logger = logging.getLogger("api")

CONTENT_TYPE = "application/problem+json"
_TYPE_BASE = "https://docs.endpoint-portal.example/api/problems/"

#: The title of each status we answer with (RFC 9110's reason phrases).
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class FieldError(Schema):
    """One invalid input: where (``body.tags``, ``query.limit``) and why."""

    field: str
    message: str


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise to answer with a problem; ``headers`` are added to the response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def field_error(field: str, message: str) -> ProblemError:
    """A 422 for one field."""
    return ProblemError(422, f"{field}: {message}", errors=[{"field": field, "message": message}])


def query_refused(form, names: dict[str, str] | None = None) -> ProblemError:
    """A 422 naming each refused query parameter of a filter ``form``
    (``query.<name>``; ``names`` maps a form field to the parameter it came from)."""
    names = names or {}
    errors = [
        {"field": f"query.{names.get(field, field)}", "message": str(message)}
        for field, messages in form.errors.items()
        for message in messages
    ]
    return ProblemError(
        422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
    )


def problem_response(
    status: int,
    detail: str,
    *,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body = {
        "type": _TYPE_BASE + _TYPES.get(status, str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "request_id": current_request_id() or None,
    }
    if errors is not None:
        body["errors"] = errors
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_path(location) -> str:
    # ninja names the body parameter itself ("body", "body", "tags"); every
    # operation's body parameter is called ``body``, so it says nothing.
    parts = list(location)
    if parts[:2] == ["body", "body"]:
        del parts[1]
    return ".".join(str(part) for part in parts)


def _validation_errors(exc: ValidationError) -> list[dict]:
    errors = []
    for error in exc.errors:
        location = list(error.get("loc", ()))
        message = error.get("msg", "Invalid value.")
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        errors.append({"field": _field_path(location), "message": message})
    return errors


def install(api) -> None:
    """Register the handlers that turn every failure into a problem."""

    def on_problem(request: HttpRequest, exc: ProblemError):
        return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)

    def on_validation(request: HttpRequest, exc: ValidationError):
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid input."
        return problem_response(422, detail, errors=errors)

    def on_authentication(request: HttpRequest, exc: AuthenticationError):
        return problem_response(
            401,
            "Send a valid API token as “Authorization: Bearer <token>”.",
            headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
        )

    def on_http_error(request: HttpRequest, exc: HttpError):
        return problem_response(exc.status_code, str(exc.message))

    def on_not_found(request: HttpRequest, exc: Http404):
        return problem_response(404, "No such object in this account.")

    def on_database_error(request: HttpRequest, exc: DatabaseError):
        # A lost database is a 503 to retry; anything else a database refused
        # is a 500 like any other failure.
        unavailable = database_unavailable.response_for(request, exc)
        if unavailable is None:
            return on_unexpected(request, exc)
        return problem_response(
            503,
            database_unavailable.API_MESSAGE,
            headers={"Retry-After": unavailable["Retry-After"]},
        )

    def on_unexpected(request: HttpRequest, exc: Exception):
        logger.exception("API error on %s %s", request.method, request.path)
        return problem_response(500, "Something went wrong on our side; the request id says where.")

    api.add_exception_handler(ProblemError, on_problem)
    api.add_exception_handler(ValidationError, on_validation)
    api.add_exception_handler(AuthenticationError, on_authentication)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(DatabaseError, on_database_error)
    api.add_exception_handler(Exception, on_unexpected)
