"""Error pages are the portal's own, say nothing about the inside, and a 500 can
be traced from the page's request id to an ERROR line in the log.

This module doubles as a test-only URLConf: the portal's URLs plus views that
fail on purpose."""

import logging

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client, override_settings
from django.urls import include, path

from tests.logs import render as _line


class DatabasePasswordLeakError(RuntimeError):
    pass


def _boom(request):
    raise DatabasePasswordLeakError("password=hunter2 host=db.internal")


def _denied(request):
    raise PermissionDenied


def _suspicious(request):
    raise SuspiciousOperation("header smuggling attempt")


urlpatterns = [
    path("boom/", _boom),
    path("denied/", _denied),
    path("suspicious/", _suspicious),
    path("", include("config.urls")),
]
handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

FAILING_URLS = override_settings(ROOT_URLCONF=__name__)
INTERNALS = ("Traceback", "hunter2", "db.internal", "DatabasePasswordLeakError", "SECRET_KEY")


def _assert_reveals_nothing(body: str) -> None:
    for word in INTERNALS:
        assert word not in body
    # Django's own debug and technical pages are not what the user sees.
    assert "Django" not in body
    assert "Endpoint Portal" in body


@FAILING_URLS
@pytest.mark.django_db
def test_500_is_the_portal_page_with_the_request_id_and_logged_as_error(caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom/", HTTP_X_REQUEST_ID="trace-500-abcdef")

    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body
    assert "trace-500-abcdef" in body
    assert response["X-Request-ID"] == "trace-500-abcdef"
    _assert_reveals_nothing(body)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        r.name == "portal" and " ERROR portal request_id=trace-500-abcdef Server error" in _line(r)
        for r in errors
    )
    access = [r for r in errors if r.name == "portal.request"]
    assert access
    assert "request_id=trace-500-abcdef method=GET path=/boom/ status=500" in _line(access[0])


@FAILING_URLS
@pytest.mark.django_db
def test_500_invents_a_request_id_when_the_proxy_sends_a_malformed_one(caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom/", HTTP_X_REQUEST_ID="bad id\nforged")

    request_id = response["X-Request-ID"]
    assert request_id != "bad id\nforged"
    assert len(request_id) == 32
    assert request_id in response.content.decode()
    assert any(f"request_id={request_id} Server error" in _line(r) for r in caplog.records)


@FAILING_URLS
@pytest.mark.django_db
def test_403_is_the_portal_page(operator):
    client = Client()
    client.force_login(operator)
    response = client.get("/denied/")

    body = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in body
    _assert_reveals_nothing(body)


@FAILING_URLS
@pytest.mark.django_db
def test_400_is_the_portal_page_and_hides_the_internal_reason():
    response = Client().get("/suspicious/")

    body = response.content.decode()
    assert response.status_code == 400
    assert "Bad request" in body
    assert "smuggling" not in body
    _assert_reveals_nothing(body)


@pytest.mark.django_db
def test_404_is_the_portal_page():
    response = Client().get("/no/such/page/")

    body = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing at this address" in body
    _assert_reveals_nothing(body)


@pytest.mark.django_db
def test_unknown_host_gets_the_400_page():
    response = Client().get("/login/", HTTP_HOST="evil.example")

    body = response.content.decode()
    assert response.status_code == 400
    assert "Bad request" in body
    assert "ALLOWED_HOSTS" not in body
    _assert_reveals_nothing(body)


@pytest.mark.django_db
def test_csrf_failure_gets_the_portal_403_with_a_plain_instruction(operator):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "op", "password": "pw"})

    body = response.content.decode()
    assert response.status_code == 403
    assert "Reload the page and try again" in body
    assert "CSRF" not in body
    _assert_reveals_nothing(body)
    assert "_auth_user_id" not in client.session
