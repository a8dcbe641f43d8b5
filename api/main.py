"""The customer REST API, ``/api/v1/`` (docs/api.md): one ``NinjaAPI`` with the
API-token auth on every operation, the problem-details handlers, and its
routers, one per resource. The OpenAPI 3.1 document at ``/api/v1/openapi.json``
is generated from the same code that validates the requests."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from api import problems
from api.auth import ApiTokenAuth
from api.request_body import CachedJsonParser
from api.routers import actions, activations, endpoints, events, inventory, jobs, webhooks

DESCRIPTION = """\
Everything the portal does with an account's endpoints, for your own systems.
Authenticate with an API token of the account (`Authorization: Bearer epk_…`);
its role (viewer, operator, admin) decides what it may do. Lists are keyset
pages: pass `next` back as `cursor`. Errors are RFC 9457 problem details.
"""


#: OpenAPI links: where a response's values lead (clients and Schemathesis's
#: stateful runs follow them), by (operation id, status).
LINKS = {
    ("list_endpoints", 200): {
        "GetEndpoint": ("get_endpoint", {"iccid": "$response.body#/results/0/iccid"}),
        "EndpointHistory": ("endpoint_history", {"iccid": "$response.body#/results/0/iccid"}),
    },
    **{
        (f"bulk_{action}", 202): {
            "GetJob": ("get_job", {"job_id": "$response.body#/id"}),
            "CancelJob": ("cancel_job", {"job_id": "$response.body#/id"}),
        }
        for action in ("assign", "suspend", "terminate")
    },
    ("list_jobs", 200): {"GetJob": ("get_job", {"job_id": "$response.body#/results/0/id"})},
    ("list_groups", 200): {"GetGroup": ("get_group", {"name": "$response.body#/0/name"})},
}


class PortalApi(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """The document, with error responses typed ``application/problem+json``
        (what they are sent as) rather than ninja's ``application/json``, and
        the links between operations."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[problems.CONTENT_TYPE] = content.pop("application/json")
                    links = LINKS.get((operation.get("operationId"), int(status)))
                    if links:
                        response["links"] = {
                            name: {"operationId": target, "parameters": parameters}
                            for name, (target, parameters) in links.items()
                        }
        return schema


api = PortalApi(
    title="Endpoint Portal API",
    version="1",
    description=DESCRIPTION,
    auth=ApiTokenAuth(),
    parser=CachedJsonParser(),
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
api.add_router("/events", events.router)
api.add_router("/webhooks", webhooks.router)
api.add_router("/activations", activations.router)
