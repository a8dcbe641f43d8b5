"""The OpenAPI document is valid OpenAPI 3.1, complete (every route under
/api/v1/ except the network API's, every error it can answer, the bearer
scheme), and served with its interactive docs from our own assets."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from api.main import api as ninja_api


def _document() -> dict:
    return ninja_api.get_openapi_schema()


def test_the_document_validates(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def _api_routes() -> set[str]:
    """Every URL pattern under api/v1/ that is not the network API's."""
    routes = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if route.startswith("api/v1/") and not route.startswith("api/v1/network/"):
                    routes.add(route)

    walk(get_resolver().url_patterns)
    return routes


def test_every_route_is_in_the_document():
    documented = {path.lstrip("/") for path in _document()["paths"]}
    # ninja's own routes: the document, the docs page and its root (to the docs).
    routes = _api_routes() - {"api/v1/openapi.json", "api/v1/docs", "api/v1/"}
    as_paths = {route.replace("<", "{").replace(">", "}") for route in routes}
    normalised = {
        "/".join(part.split(":")[-1] if part.startswith("{") else part for part in p.split("/"))
        for p in as_paths
    }
    assert normalised and normalised == documented


def test_every_operation_declares_its_errors_as_problems():
    for path, operations in _document()["paths"].items():
        for method, operation in operations.items():
            responses = {str(status): answer for status, answer in operation["responses"].items()}
            for status in ("400", "401", "422", "429", "500"):
                assert status in responses, (method, path, status)
            for status, response in responses.items():
                content = response.get("content", {})
                if int(status) >= 400:
                    assert list(content) == ["application/problem+json"], (method, path, status)
            assert operation["security"] == [{"ApiTokenAuth": []}], (method, path)
            assert operation.get("operationId") and operation.get("summary"), (method, path)


def test_the_bearer_scheme_is_declared():
    schemes = _document()["components"]["securitySchemes"]
    assert schemes["ApiTokenAuth"]["type"] == "http"
    assert schemes["ApiTokenAuth"]["scheme"] == "bearer"


def test_docs_use_vendored_assets(client, db):
    page = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page.split("<body")[0]
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200
