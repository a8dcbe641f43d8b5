"""The API's limits beyond one token (docs/api.md): requests with no token or a
bad one are limited per client address (a 429 problem with Retry-After, not an
endless stream of 401s); ``REDIS_URL`` is the production setting, the deploy
check says so when it is missing; and two real web processes sharing Redis
share one count, per token and per address."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest
import redis
from django.core.checks import run_checks
from django.test import Client, override_settings

from api.tokens import create_token
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.config.test_request_timeout import gunicorn

#: Redis for the two-process test; CI must have one, elsewhere its absence skips.
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/3")


def problem(response) -> dict:
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


@override_settings(API_ANONYMOUS_RATE_LIMIT=3, API_ANONYMOUS_RATE_WINDOW=60)
def test_requests_without_a_valid_token_are_limited_per_address(account):
    here = {"REMOTE_ADDR": "192.0.2.7"}
    no_token, bad_token = Client(**here), Client(**here, HTTP_AUTHORIZATION="Bearer epk_nope")
    answers = [
        no_token.get("/api/v1/endpoints"),
        bad_token.get("/api/v1/groups"),
        no_token.post("/api/v1/bulk/suspend", {}, content_type="application/json"),
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]

    limited = bad_token.get("/api/v1/endpoints")

    assert limited.status_code == 429
    assert (
        "Requests without a valid token are limited to 3 per 60 seconds"
        in (problem(limited)["detail"])
    )
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another address, and a valid token from this one, are not limited by it.
    assert Client(REMOTE_ADDR="192.0.2.8").get("/api/v1/endpoints").status_code == 401
    valid = ApiClient(make_token(account, Role.VIEWER)[1])
    assert valid.client.get("/api/v1/groups", headers=valid.headers, **here).status_code == 200


def test_the_deploy_check_warns_without_redis(settings):
    settings.REDIS_URL = ""
    warnings = [m.id for m in run_checks(include_deployment_checks=True)]
    assert "api.W001" in warnings
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert "api.W001" not in [m.id for m in run_checks(include_deployment_checks=True)]


def _status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 429:
            assert json.loads(error.read())["status"] == 429 and error.headers["Retry-After"]
        return error.code


@pytest.fixture
def shared_redis():
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {REDIS_TEST_URL} (set REDIS_TEST_URL)")
    for key in client.scan_iter("*api-rate*"):
        client.delete(key)
    yield REDIS_TEST_URL
    for key in client.scan_iter("*api-rate*"):
        client.delete(key)


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_share_one_limit_through_redis(account, shared_redis, tmp_path):
    plain = create_token(
        account=account, name="shared", role=Role.VIEWER, created_by=None, creator_role=None
    )[1]
    env = {
        "REDIS_URL": shared_redis,
        "WEB_CONCURRENCY": "1",
        "API_RATE_LIMIT": "6",
        "API_ANONYMOUS_RATE_LIMIT": "4",
        "API_RATE_WINDOW": "3600",
        "API_ANONYMOUS_RATE_WINDOW": "3600",
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with (
        gunicorn(tmp_path / "a", **env) as (first, _),
        gunicorn(tmp_path / "b", **env) as (second, _),
    ):
        both = [first, second]
        with_token = [_status(f"{both[n % 2]}/api/v1/groups", plain) for n in range(7)]
        without = [_status(f"{both[n % 2]}/api/v1/groups") for n in range(5)]

    # Six in all, three through each process, then the seventh is refused.
    assert with_token == [200] * 6 + [429]
    assert without == [401] * 4 + [429]
