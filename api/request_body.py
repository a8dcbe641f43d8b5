"""What of a request the API can store: read before any operation runs.

PostgreSQL text holds neither NUL nor an unpaired UTF-16 surrogate, and JSON
allows both (``"\\u0000"``, ``"\\ud800"``); a query string or a path can carry a
NUL (``%00``). Each is a 422 naming every field that holds one, whatever the
operation, so no schema can forget it. A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``
is a 413. The JSON is parsed once here and handed to ninja by ``CachedJsonParser``.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja.parser import Parser

from api.problems import ProblemError

_PARSED = "_api_json_body"
_NOT_JSON = object()
_WRITES = ("POST", "PATCH", "PUT", "DELETE")


def _unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text``, or None."""
    if "\x00" in text:
        return "Contains a NUL character."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Contains an unpaired surrogate (half of a UTF-16 pair)."
    return None


def _walk(value, path: str, found: list[dict]) -> None:
    if isinstance(value, str):
        reason = _unstorable(value)
        if reason:
            found.append({"field": path, "message": reason})
    elif isinstance(value, dict):
        for key, item in value.items():
            reason = _unstorable(key)
            if reason:
                found.append({"field": f"{path}.{key}", "message": "Key: " + reason})
                continue
            _walk(item, f"{path}.{key}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}.{index}", found)


def body_bytes(request: HttpRequest) -> bytes:
    """The body, or a 413 when it is over the upload limit."""
    try:
        return request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raise ProblemError(
            413,
            f"The body is larger than {limit / 1024 / 1024:g} MB; send less per request "
            "(bulk actions take a filter instead of a list).",
        ) from None


def refuse_unstorable(request: HttpRequest) -> None:
    """A 413 for a body too large; a 422 for a NUL or an unpaired surrogate in
    the path, a query parameter or any string (or key) of the JSON body."""
    found = []
    if "\x00" in request.path:
        found.append({"field": "path", "message": "Contains a NUL character."})
    for key, values in request.GET.lists():
        if any("\x00" in v for v in [key, *values]):
            found.append({"field": f"query.{key}", "message": "Contains a NUL character."})
    if request.method in _WRITES:
        body = body_bytes(request)
        if body:
            try:
                parsed = json.loads(body)
            except (ValueError, RecursionError):
                parsed = _NOT_JSON  # ninja answers 400 "Cannot parse request body"
            setattr(request, _PARSED, parsed)
            if parsed is not _NOT_JSON:
                _walk(parsed, "body", found)
    if found:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in found[:10])
        raise ProblemError(422, f"Text PostgreSQL cannot store: {detail}", errors=found)


class CachedJsonParser(Parser):
    """ninja's JSON parser, reusing the body ``refuse_unstorable`` parsed."""

    def parse_body(self, request: HttpRequest):
        parsed = getattr(request, _PARSED, None)
        if parsed is None or parsed is _NOT_JSON:
            return super().parse_body(request)
        return parsed
