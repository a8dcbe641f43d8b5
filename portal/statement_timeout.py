"""A statement cut off by the statement timeout is a clear answer, not a 500.

Web workers run with PostgreSQL's ``statement_timeout`` (DB_STATEMENT_TIMEOUT,
set by gunicorn.conf.py) below gunicorn's own timeout. When PostgreSQL cancels a
statement, the exception leaves the view's ``transaction.atomic()`` rolled back;
this answers with the portal's "took too long, nothing was changed" page and its
request id, or, for the network API, the same in JSON.
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import JsonResponse
from psycopg.errors import QueryCanceled

from portal import views
from portal.request_id import current_request_id

logger = logging.getLogger("portal")

API_MESSAGE = (
    "The request took too long and was stopped; none of its events were applied. Send it again."
)


class StatementTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not (
            isinstance(exception, OperationalError)
            and isinstance(exception.__cause__, QueryCanceled)
        ):
            return None
        # The traceback says which statement was too slow.
        logger.error(
            "Statement cancelled by the statement timeout; the request was rolled back",
            exc_info=exception,
            extra={"request_id": current_request_id()},
        )
        match = request.resolver_match
        if match is not None and match.namespace == "api":
            return JsonResponse({"error": API_MESSAGE}, status=503)
        return views.took_too_long(request)
