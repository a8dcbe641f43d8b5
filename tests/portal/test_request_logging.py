"""Every request leaves one structured line: request id, user, account, method,
path, status, duration, and the counts a bulk action adds.

This module doubles as a test-only URLConf with a view that annotates its line."""

import json
import logging
import re
from urllib.parse import quote

import pytest
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path, re_path

from portal.access_log import annotate
from portal.models import Permission
from portal.tenancy import member_required
from tests.factories import AccountFactory, MemberFactory, UserFactory
from tests.logs import render as _line


@member_required(Permission.OPERATE)
def _bulk(request):
    annotate(request, action="suspend", changed=1204, skipped=3)
    return HttpResponse("1,204 suspended, 3 skipped")


def _noted(request):
    annotate(request, note=request.GET.get("note", ""))
    return HttpResponse("noted")


def _boom(request, rest):
    raise RuntimeError("a view failed")


urlpatterns = [
    path("bulk-probe/", _bulk),
    path("note-probe/", _noted),
    # Any character, line breaks included (``<path:>`` stops at a newline).
    re_path(r"^boom/(?P<rest>[\s\S]*)\Z", _boom),
    path("", include("config.urls")),
]
handler500 = "portal.views.server_error"

PROBE_URLS = override_settings(ROOT_URLCONF=__name__)


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
@pytest.mark.parametrize(("proxies", "logged"), [(0, "10.0.0.2"), (1, "198.51.100.66")])
def test_the_line_carries_the_clients_address_as_the_lockout_sees_it(
    caplog, settings, proxies, logged
):
    settings.TRUSTED_PROXY_COUNT = proxies
    with caplog.at_level(logging.INFO, logger="portal.request"):
        Client().get(
            "/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.66"
        )

    [line] = _access_lines(caplog)
    assert line.access["ip"] == logged
    assert f" account=- ip={logged}" in _line(line)


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
    assert response.status_code == 404
    assert "request_id=lost-404-abcdef Not Found: /no/such/page/" in _line(record)


# --- log forging: nothing a client sends can start a line of its own ---------------

#: A line that would read as a viewer's terminate of 12,000 endpoints.
FORGED = (
    "2026-01-05 10:12:01,118 INFO portal.request request_id=forged-0001 method=POST"
    " path=/inventory/endpoints/bulk/terminate/ status=302 user=admin action=terminate"
    " changed=12000"
)
#: Line breaks, NUL, a terminal escape and other characters a log viewer acts on.
CONTROLS = ["\n", "\r", "\r\n", "\x00", "\x1b[2K\x1b[1A", "\x07", "\x08", "\t", "\x0b", "\x0c"]
CONTROLS += ["\x7f", "\x85", "\u2028", "\u2029", "\u202e"]


def _single_line(record: logging.LogRecord) -> str:
    """The record's rendered text, asserted to be one line of printable text."""
    text = _line(record)
    first, *rest = text.split("\n")
    assert first.isprintable(), repr(first)
    # A traceback follows its record on indented lines, never as a line of its own.
    assert all(line.startswith(" ") and line.isprintable() for line in rest), repr(text)
    return first


_PAIR = re.compile(r"(\w+)=")


def _fields(line: str) -> dict[str, str]:
    """The ``key=value`` pairs of a rendered line, JSON-quoted values decoded.

    Words that are not pairs (time, level, logger, "Server error") are skipped; a
    key seen twice means a value broke out of its field."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(line):
        pair = _PAIR.match(line, position)
        if not pair:
            space = line.find(" ", position)
            position = len(line) if space == -1 else space + 1
            continue
        start = pair.end()
        if line.startswith('"', start):
            value, end = json.JSONDecoder().raw_decode(line, start)
        else:
            end = line.find(" ", start)
            end = len(line) if end == -1 else end
            value = line[start:end]
        assert pair.group(1) not in fields, f"{pair.group(1)}= twice in {line!r}"
        fields[pair.group(1)] = value
        position = end + 1
    return fields


def _assert_every_line_single(caplog) -> None:
    for record in caplog.records:
        _single_line(record)


@pytest.mark.django_db
@pytest.mark.parametrize("control", CONTROLS, ids=repr)
def test_control_characters_in_the_path_stay_inside_the_path_field(caplog, control):
    crafted = "/nope" + control + FORGED
    with caplog.at_level(logging.INFO):
        response = Client().get(quote(crafted))

    assert response.status_code == 404
    [record] = _access_lines(caplog)
    fields = _fields(_single_line(record))
    assert fields["path"] == crafted
    assert fields["status"] == "404"
    assert "action" not in fields
    _assert_every_line_single(caplog)


@pytest.mark.django_db
@pytest.mark.parametrize("control", ["\n", "\r", "\x1b[1A"], ids=repr)
def test_a_trailing_line_break_in_the_path_is_quoted(caplog, control):
    """``$`` matches before a trailing newline: ``GET /x%0A`` must still be quoted."""
    with caplog.at_level(logging.INFO):
        Client().get(quote("/x" + control))

    [record] = _access_lines(caplog)
    assert _fields(_single_line(record))["path"] == "/x" + control


@pytest.mark.django_db
@pytest.mark.parametrize("control", CONTROLS, ids=repr)
def test_control_characters_in_the_query_reach_no_line_raw(caplog, control):
    with caplog.at_level(logging.INFO):
        Client().get("/login/", {"next": control + FORGED, control: control})

    [record] = _access_lines(caplog)
    assert _fields(_single_line(record))["path"] == "/login/"
    _assert_every_line_single(caplog)


@pytest.mark.django_db
@pytest.mark.parametrize("control", [c for c in CONTROLS if c != "\x00"], ids=repr)
def test_control_characters_in_user_and_account_are_quoted(caplog, control):
    """PostgreSQL stores no NUL, so a username or slug cannot hold one."""
    username = "op" + control
    slug = "vantiq" + control
    member = MemberFactory(account=AccountFactory(slug=slug), user__username=username)
    client = Client()
    client.force_login(member.user)
    with caplog.at_level(logging.INFO):
        response = client.get("/inventory/groups/")

    assert response.status_code == 200
    [record] = _access_lines(caplog)
    fields = _fields(_single_line(record))
    assert fields["user"] == username
    assert fields["account"] == slug
    _assert_every_line_single(caplog)


@PROBE_URLS
@pytest.mark.django_db
@pytest.mark.parametrize("control", CONTROLS, ids=repr)
def test_control_characters_in_an_annotation_are_quoted(caplog, control):
    with caplog.at_level(logging.INFO):
        Client().get("/note-probe/", {"note": control + FORGED})

    [record] = _access_lines(caplog)
    fields = _fields(_single_line(record))
    assert fields["note"] == control + FORGED
    assert "action" not in fields


@PROBE_URLS
@pytest.mark.django_db
@pytest.mark.parametrize("control", CONTROLS, ids=repr)
def test_a_server_error_logs_one_line_whatever_its_path(caplog, control):
    crafted = "/boom/" + control + FORGED
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO):
        response = client.get(quote(crafted))

    assert response.status_code == 500
    [server_error] = [r for r in caplog.records if r.name == "portal"]
    line = _single_line(server_error)
    assert " ERROR portal request_id=" in line
    assert _fields(line)["path"] == crafted
    assert "action" not in _fields(line)
    [access] = _access_lines(caplog)
    assert _fields(_single_line(access))["status"] == "500"
    # Django's own "Internal Server Error" record and its traceback, too.
    _assert_every_line_single(caplog)


@pytest.mark.django_db
@pytest.mark.parametrize("control", ["\n", "\r", "\x00"], ids=repr)
def test_a_request_id_with_a_trailing_line_break_is_replaced(caplog, control):
    with caplog.at_level(logging.INFO):
        response = Client().get("/login/", HTTP_X_REQUEST_ID="proxy-id-1234" + control)

    assert response.status_code == 200
    assert response["X-Request-ID"] != "proxy-id-1234" + control
    assert len(response["X-Request-ID"]) == 32
    [record] = _access_lines(caplog)
    assert f"request_id={response['X-Request-ID']} " in _single_line(record)


@pytest.mark.django_db
@pytest.mark.parametrize("control", [c for c in CONTROLS if c != "\x00"], ids=repr)
def test_djangos_own_messages_and_tracebacks_stay_on_their_record(caplog, control):
    """Django logs a refused admin filter in its own words, the client's
    parameter name and a traceback included; the formatter keeps that one record.
    (A NUL is refused before Django looks: portal.changelists.)"""
    client = Client()
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    with caplog.at_level(logging.INFO):
        response = client.get(
            "/admin/portal/account/", {"members__user__x" + control + FORGED: "1"}
        )

    assert response.status_code == 400
    [refused] = [r for r in caplog.records if r.name.startswith("django.security")]
    assert refused.exc_info
    assert _single_line(refused).endswith(" not allowed")
    _assert_every_line_single(caplog)
