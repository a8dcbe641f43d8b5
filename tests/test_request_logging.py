"""Every request leaves one structured line: request id, user, account, method,
path, status, duration, and the counts a bulk action adds.

This module doubles as a test-only URLConf with a view that annotates its line."""

import logging

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from portal.access_log import annotate
from portal.request_id import RequestIdLogFilter
from portal.tenancy import member_required


@member_required("operate")
def _bulk(request):
    annotate(request, action="suspend", changed=1204, skipped=3)
    return HttpResponse("1,204 suspended, 3 skipped")


urlpatterns = [path("bulk-probe/", _bulk), path("", include("portal.urls"))]

PROBE_URLS = override_settings(ROOT_URLCONF=__name__)


def _line(record: logging.LogRecord) -> str:
    """The record as the project's log formatter writes it."""
    return logging.Formatter(settings.LOGGING["formatters"]["structured"]["format"]).format(record)


def _access_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "portal.request"]


@PROBE_URLS
@pytest.mark.django_db
def test_a_bulk_action_logs_who_in_which_account_and_the_counts(caplog, operator):
    client = Client()
    client.force_login(operator)
    with caplog.at_level(logging.INFO, logger="portal.request"):
        response = client.post("/bulk-probe/", HTTP_X_REQUEST_ID="req-bulk-12345")

    assert response.status_code == 200
    [line] = _access_lines(caplog)
    message = _line(line)
    assert " INFO portal.request request_id=req-bulk-12345 method=POST path=/bulk-probe/" in message
    assert " status=200 " in message
    assert " user=op " in message
    assert " account=vantiq " in message
    assert message.endswith("action=suspend changed=1204 skipped=3")
    assert line.levelno == logging.INFO
    assert line.access["user"] == "op"
    assert float(line.access["duration_ms"]) >= 0


@pytest.mark.django_db
def test_an_anonymous_request_logs_anonymous_and_no_account(caplog):
    with caplog.at_level(logging.INFO, logger="portal.request"):
        response = Client().get("/login/")

    [line] = _access_lines(caplog)
    assert response.status_code == 200
    assert line.access["user"] == "anonymous"
    assert line.access["account"] == "-"
    assert line.request_id == response["X-Request-ID"]
    assert f"request_id={response['X-Request-ID']} method=GET" in _line(line)
    assert "path=/login/ status=200" in line.getMessage()


@pytest.mark.django_db
def test_a_crafted_path_cannot_forge_a_second_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="portal.request"):
        Client().get("/nope%0Astatus=200 user=admin")

    [line] = _access_lines(caplog)
    message = line.getMessage()
    assert "\n" not in message
    assert 'path="/nope\\nstatus=200 user=admin"' in message
    assert "status=404" in message


@pytest.mark.django_db
def test_the_log_adds_no_query_to_a_signed_in_page(caplog, operator, django_assert_num_queries):
    """The account is reported only when the view already loaded it."""
    client = Client()
    client.force_login(operator)
    # session, user, memberships (404 page's header): the log adds nothing.
    with caplog.at_level(logging.INFO, logger="portal.request"), django_assert_num_queries(3):
        client.get("/no/such/page/")

    [line] = _access_lines(caplog)
    assert line.access["user"] == "op"
    assert line.access["account"] == "vantiq"


@pytest.mark.django_db
def test_djangos_own_not_found_line_carries_the_request_id(caplog):
    """Django logs "Not Found" after the middleware ran; the id still reaches it."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get("/no/such/page/", HTTP_X_REQUEST_ID="lost-404-abcdef")

    [record] = [r for r in caplog.records if r.name == "django.request"]
    RequestIdLogFilter().filter(record)
    assert response.status_code == 404
    assert "request_id=lost-404-abcdef Not Found: /no/such/page/" in _line(record)
