"""Every error of the customer API is an RFC 9457 problem: our refusals,
validation, authentication, the rate limit, unknown routes and methods, bodies
that are not JSON, NUL characters, and a crash (500 with the request id and
nothing internal)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from api import rate_limit
from api.routers import endpoints as endpoint_routes
from portal.models import Role
from tests.api.conftest import ApiClient, make_token


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"] and body["detail"]
    return body


def test_unknown_route_and_method(api, db):
    assert_problem(api.get("/api/v1/nothing-here"), 404)
    response = api.delete("/api/v1/endpoints")
    assert_problem(response, 405)


def test_not_json_is_a_400(api, db):
    response = api.client.post(
        "/api/v1/bulk/suspend", b"{not json", content_type="application/json", headers=api.headers
    )
    assert_problem(response, 400)


def test_nul_anywhere_is_a_422(api, db):
    assert_problem(api.get("/api/v1/endpoints", {"q": "a\x00b"}), 422)
    assert_problem(api.get("/api/v1/groups/a%00b"), 422)
    body = assert_problem(api.post("/api/v1/bulk/suspend", {"filter": {"q": "x\x00"}}), 422)
    assert body["errors"][0]["field"] == "body.filter.q"


def test_a_crash_is_a_500_problem_without_internals(api, db, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(endpoint_routes, "endpoints_out", broken)
    body = assert_problem(api.get("/api/v1/endpoints"), 500)
    assert "secret internals" not in str(body)
    assert body["request_id"]


@override_settings(API_RATE_LIMIT=3, API_RATE_WINDOW=60)
def test_the_rate_limit_is_per_token_with_retry_after(account):
    first = ApiClient(make_token(account, Role.VIEWER, name="a")[1])
    second = ApiClient(make_token(account, Role.VIEWER, name="b")[1])
    for _ in range(3):
        assert first.get("/api/v1/groups").status_code == 200
    limited = first.get("/api/v1/groups")
    body = assert_problem(limited, 429)
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "3 requests per 60 seconds" in body["detail"]
    assert second.get("/api/v1/groups").status_code == 200


def test_the_window_resets(settings):
    settings.API_RATE_LIMIT, settings.API_RATE_WINDOW = 2, 10
    assert rate_limit.retry_after(99, now=1000.0) is None
    assert rate_limit.retry_after(99, now=1001.0) is None
    assert rate_limit.retry_after(99, now=1002.0) == 8
    assert rate_limit.retry_after(99, now=1010.5) is None


@pytest.mark.parametrize("path", ["/api/v1/endpoints", "/api/v1/jobs/1", "/api/v1/groups"])
def test_without_a_token_every_operation_is_401(db, path):
    response = ApiClient(None).get(path)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_the_network_api_keeps_its_own_errors(db):
    response = ApiClient(None).client.get("/api/v1/network/events")
    assert response["Content-Type"] == "application/json"
    assert "error" in response.json()
