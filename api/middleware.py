"""Every error under ``/api/v1/`` is a problem document, also when it does not
come from an operation: an unknown route (404), a method the route does not
take (405), a body too large, a statement cut off (503), a crash outside the
operation (500). The packet core's network API keeps its own error contract
(docs/network-api.md) and is left alone."""

from __future__ import annotations

from api import problems
from portal import database_unavailable

PREFIX = "/api/v1/"
NETWORK_PREFIX = "/api/v1/network/"

_DETAILS = {
    404: "No such API URL; see /api/v1/docs.",
    405: "This URL does not take that method.",
}


class ProblemDetailsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path_info
        if (
            response.status_code >= 400
            and path.startswith(PREFIX)
            and not path.startswith(NETWORK_PREFIX)
            and response.get("Content-Type", "").split(";")[0] != problems.CONTENT_TYPE
        ):
            status = response.status_code
            headers = {
                name: response[name] for name in ("Allow", "Retry-After") if name in response
            }
            return problems.problem_response(
                status,
                _unavailable_detail(request)
                or _DETAILS.get(status, problems.TITLES.get(status, "Error") + "."),
                headers=headers,
            )
        return response


def _unavailable_detail(request) -> str:
    """The 503's own words when the database was away (portal.database_unavailable)."""
    if getattr(request, "_database_unavailable", False):
        return database_unavailable.API_MESSAGE
    return ""
