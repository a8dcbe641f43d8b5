"""The customer REST API, ``/api/v1/`` (docs/api.md): one ``NinjaAPI`` with the
API-token auth on every operation, the problem-details handlers, and its
routers, one per resource. The OpenAPI 3.1 document at ``/api/v1/openapi.json``
is generated from the same code that validates the requests."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from api import problems
from api.auth import ApiTokenAuth
from api.routers import actions, activations, endpoints, inventory, jobs

DESCRIPTION = """\
Everything the portal does with an account's endpoints, for your own systems.
Authenticate with an API token of the account (`Authorization: Bearer epk_…`);
its role (viewer, operator, admin) decides what it may do. Lists are keyset
pages: pass `next` back as `cursor`. Errors are RFC 9457 problem details.
"""


class PortalApi(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """The document, with error responses typed ``application/problem+json``
        (what they are sent as) rather than ninja's ``application/json``."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[problems.CONTENT_TYPE] = content.pop("application/json")
        return schema


api = PortalApi(
    title="Endpoint Portal API",
    version="1",
    description=DESCRIPTION,
    auth=ApiTokenAuth(),
    urls_namespace="customer_api",
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
problems.install(api)

api.add_router("/endpoints", endpoints.router)
api.add_router("", actions.router)
api.add_router("/jobs", jobs.router)
api.add_router("/groups", inventory.groups_router)
api.add_router("/network-events", inventory.events_router)
api.add_router("/activations", activations.router)
