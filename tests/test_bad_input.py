"""Each bad input that answered a 500 (#10), as the user, support or the packet
core met it: now a clear answer, and nothing changed.

``test_fuzz.py`` hunts for more of the kind; this module pins the ones found.
It doubles as a test-only URLConf: the portal's URLs plus an API view that fails
on purpose, to see what a 500 under the API prefix answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib import admin
from django.test import Client, override_settings
from django.urls import include, path, reverse

from inventory.models import EventStatus, EventType, NetworkEvent, NetworkToken, State
from network.tokens import create_token
from tests.factories import EndpointFactory, UserFactory


def _api_boom(request):
    raise RuntimeError("the network API failed")


urlpatterns = [path("api/v1/network/boom", _api_boom), path("", include("config.urls"))]
handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

pytestmark = pytest.mark.django_db

NOT_FOUND = "There is nothing at this address"

# --- an ICCID in the URL ---------------------------------------------------------------

DETAIL_SUFFIXES = ["", "ip-addresses/", "history/", "edit/", "suspend/", "terminate/"]
NOT_ICCIDS = [
    "\x00",
    "8944\x00",
    "\x00\n2026-01-05 10:12:01,118 INFO portal.request action=terminate changed=12000",
    "8" * 19 + "\n",
    "８" * 19,  # full-width digits
    "²" * 19,
    "89440000000000000000000",  # 23 digits
    "abc",
]


@pytest.mark.parametrize("suffix", DETAIL_SUFFIXES)
@pytest.mark.parametrize("value", NOT_ICCIDS, ids=repr)
def test_a_path_value_that_is_no_iccid_is_a_404_on_every_detail_url(
    client, admin_member, account, group, suffix, value
):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    client.force_login(admin_member)
    url = f"/inventory/endpoints/{quote(value, safe='')}/{suffix}"

    for response in (client.get(url), client.post(url, {"confirm": "1", "name": "x"})):
        assert response.status_code == 404, url
        assert NOT_FOUND in response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.state, endpoint.name) == (State.ACTIVE, "")


def test_a_real_iccid_still_opens_every_tab(client, admin_member, account, group):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    client.force_login(admin_member)
    for suffix in DETAIL_SUFFIXES:
        response = client.get(f"/inventory/endpoints/{endpoint.iccid}/{suffix}")
        assert response.status_code == 200, suffix
        assert endpoint.iccid in response.content.decode()


# --- Network events: times and cursors ---------------------------------------------------

EVENTS = reverse("inventory:event_list")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def events_of(account, group):
    """An endpoint with an event at T0 and one a minute before."""
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    imsi = endpoint.imsis.first().imsi
    return [
        NetworkEvent.objects.create(
            event_id=f"bad-input-{n}",
            account=account,
            endpoint=endpoint,
            type=EventType.ATTACH,
            imsi=imsi,
            at=T0 - timedelta(minutes=n),
            status=EventStatus.ACCEPTED,
        )
        for n in (0, 1)
    ]


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_time_outside_the_calendar_in_utc_is_explained(client, viewer, events_of, name, value):
    client.force_login(viewer)

    response = client.get(EVENTS, {name: value})

    assert response.status_code == 200
    assert response.context["rows"] == []
    label = "From" if name == "from" else "To"
    assert f"{label}: Enter a date and time between the years 1 and 9999" in (
        response.content.decode()
    )


def test_an_offset_postgresql_cannot_store_still_filters(client, viewer, events_of):
    """-23:59 and +23:59 are valid ISO 8601 offsets; PostgreSQL takes ±15:59 at most."""
    client.force_login(viewer)

    # 2026-03-02 11:59 at +23:59 is T0 in UTC.
    response = client.get(EVENTS, {"from": "2026-03-02T11:59:00+23:59"})

    assert response.status_code == 200
    assert [row.event.event_id for row in response.context["rows"]] == ["bad-input-0"]


@pytest.mark.parametrize("cursor", ["²-1", "1-²", "١٢٣-1", "1-١", "+1-1", "1_0-1", "1-1 2"])
def test_a_cursor_of_other_digits_is_a_broken_link(client, viewer, events_of, cursor):
    client.force_login(viewer)

    response = client.get(EVENTS, {"cursor": cursor})

    assert response.status_code == 200
    assert response.context["rows"] == []
    assert "This page link is broken; start from the newest events." in response.content.decode()


# --- the network API ---------------------------------------------------------------------

DISCONNECTS = reverse("api:network_disconnects")


@pytest.fixture
def core() -> Client:
    client = Client(raise_request_exception=False)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {create_token('core-1')[1]}"
    return client


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"after": "²"}, "after must be a cursor"),
        ({"after": "١٢٣"}, "after must be a cursor"),
        ({"after": "1_000"}, "after must be a cursor"),
        ({"limit": "²"}, "limit must be between 1 and 1,000"),
        ({"limit": "١٠"}, "limit must be between 1 and 1,000"),
        ({"limit": "+5"}, "limit must be between 1 and 1,000"),
    ],
)
def test_disconnects_take_ascii_digits_only(core, query, message):
    response = core.get(DISCONNECTS, query)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["error"]


@pytest.mark.parametrize("url", ["/api/v1/network/nope", "/api/v1/network/events/", "/api/x%00"])
def test_an_unknown_api_url_is_a_json_404(core, url):
    response = core.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "No such API URL."
    assert response.json()["request_id"] == response["X-Request-ID"]


@pytest.mark.parametrize("url", ["/api/v1/", "/api/v1/nope", "/api/v1/endpoints/x/y"])
def test_an_unknown_customer_api_url_is_a_problem_404(core, url):
    """The customer API's errors are problem details (docs/api.md)."""
    response = core.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_a_refused_host_under_the_api_is_a_json_400(core):
    response = core.get(DISCONNECTS, HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json()["error"] == "Bad request."


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_under_the_api_is_json_with_the_request_id(core):
    response = core.get("/api/v1/network/boom", HTTP_X_REQUEST_ID="core-trace-1234")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["request_id"] == "core-trace-1234"
    assert "failed" not in body["error"]


def test_a_page_outside_the_api_is_still_html(client):
    response = client.get("/apix/nope")
    assert response.status_code == 404
    assert NOT_FOUND in response.content.decode()


# --- sign-in -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
@pytest.mark.parametrize("length", [151, 255, 256, 10_000])
def test_an_over_long_username_is_explained_and_recorded_nowhere(client, operator, url, length):
    response = client.post(url, {"username": "u" * length, "password": "pw"})

    assert response.status_code == 200
    assert f"at most 150 characters (it has {length})" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert not AccessFailureLog.objects.exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_a_username_of_the_longest_allowed_length_is_an_ordinary_failure(client, url):
    response = client.post(url, {"username": "u" * 150, "password": "pw"})

    assert response.status_code == 200
    assert AccessAttempt.objects.get().username == "u" * 150


# --- Django admin filters ---------------------------------------------------------------------


@pytest.fixture
def support(client):
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


def _changelists() -> list[str]:
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def _filter_names(changelist) -> set[str]:
    """What a URL may filter this changelist by: its list filters' parameters,
    and every field of the model (Django allows any local field)."""
    names = {name for spec in changelist.filter_specs for name in spec.expected_parameters()}
    return names | {field.name for field in changelist.model._meta.concrete_fields}


def test_state_exact_nul_on_the_endpoint_changelist_is_refused_with_a_message(support, account):
    EndpointFactory(account=account, name="still listed")
    url = reverse("admin:inventory_endpoint_changelist")

    response = support.get(url, {"state__exact": "\x00"}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [(f"{url}?e=1", 302)]
    html = response.content.decode()
    assert "A filter value held a NUL character" in html
    assert "still listed" in html


@pytest.mark.parametrize("url", _changelists())
def test_a_nul_in_any_filter_of_any_changelist_is_refused(support, url):
    names = _filter_names(support.get(url).context["cl"]) | {"x\x00", "id__in"}

    for name in sorted(names):
        response = support.get(url, {name: "a\x00b"})
        assert response.status_code == 302, name
        assert response["Location"] == f"{url}?e=1"


@pytest.mark.parametrize("url", _changelists())
def test_a_nul_in_the_search_box_lists_nothing_and_says_why(support, url):
    response = support.get(url, {"q": "a\x00b"})

    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()


def _autocomplete_fields() -> list[tuple[str, str, str]]:
    return [
        (model._meta.app_label, model._meta.model_name, field)
        for model, model_admin in admin.site._registry.items()
        for field in model_admin.autocomplete_fields
    ]


@pytest.mark.parametrize(("app_label", "model_name", "field_name"), _autocomplete_fields())
def test_a_nul_in_an_autocomplete_term_finds_nothing(support, app_label, model_name, field_name):
    response = support.get(
        reverse("admin:autocomplete"),
        {
            "term": "a\x00b",
            "app_label": app_label,
            "model_name": model_name,
            "field_name": field_name,
        },
    )

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("view", ["delete", "history"])
def test_an_empty_to_field_on_an_object_view_means_the_primary_key(support, view):
    token, _ = create_token("pgw-fuzz")
    url = reverse(f"admin:inventory_networktoken_{view}", args=[token.pk])

    response = support.get(url, {"_to_field": ""})

    assert response.status_code == 200
    assert "pgw-fuzz" in response.content.decode()
    assert NetworkToken.objects.filter(pk=token.pk).exists()


def test_a_filter_value_outside_its_choices_is_refused_with_a_message(support):
    url = reverse("admin:procrastinate_procrastinatejob_changelist")

    response = support.get(url, {"status": "²9"}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [(f"{url}?e=1", 302)]
    assert "A filter value is not one of its choices" in response.content.decode()


# --- the last 500s of the second review (#21) -------------------------------------------


@pytest.fixture
def admin_api(account):
    from api.tokens import create_token as create_api_token
    from portal.models import Role

    plain = create_api_token(
        account=account, name="bad-input", role=Role.ADMIN, created_by=None, creator_role=None
    )[1]
    return Client(headers={"Authorization": f"Bearer {plain}"})


@pytest.mark.parametrize(
    "value",
    ["v\ud800v", "\udc00", "v\udfffv\ud800", "nul\x00"],
    ids=["high", "low", "both-unpaired", "nul"],
)
def test_unstorable_text_in_a_key_value_is_a_422_naming_the_field(account, admin_api, value):
    from inventory.models import KeyValue

    endpoint = EndpointFactory(account=account)

    response = admin_api.patch(
        f"/api/v1/endpoints/{endpoint.iccid}",
        {"key_values": {"depot": value}},
        content_type="application/json",
    )

    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body.key_values.depot"
    assert not KeyValue.objects.exists()


def test_a_paired_surrogate_is_an_ordinary_character(account, admin_api):
    from inventory.models import KeyValue

    endpoint = EndpointFactory(account=account)

    response = admin_api.patch(
        f"/api/v1/endpoints/{endpoint.iccid}",
        '{"key_values": {"depot": "v\\ud83d\\ude00v"}}',
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert KeyValue.objects.get().value == "v😀v"


def test_a_body_over_the_upload_limit_is_a_413_problem_with_a_valid_token(account, admin_api):
    endpoint = EndpointFactory(account=account)
    body = '{"key_values": {"depot": "' + "x" * (10 * 1024 * 1024) + '"}}'

    response = admin_api.patch(
        f"/api/v1/endpoints/{endpoint.iccid}", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert "10 MB" in response.json()["detail"]


@pytest.mark.parametrize("url", ["/account/audit-log/", "/account/audit-log/export/"])
@pytest.mark.parametrize(
    "query",
    [
        {"until": "9999-12-31"},
        {"since": "9999-12-31"},
        {"since": "0001-01-01", "until": "9999-12-31"},
        {"since": "0001-01-01"},
        {"until": "0001-01-01"},
    ],
)
def test_the_audit_log_takes_the_calendars_extremes(client, admin_member, url, query):
    client.force_login(admin_member)

    response = client.get(url, query)

    assert response.status_code == 200


def test_signed_in_a_login_link_back_to_the_login_page_goes_home(client, operator):
    client.force_login(operator)

    response = client.get("/login/", {"next": "/login/"})

    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:endpoint_list")
