"""The network API over HTTP: the token, the body checks, the answers, and the
disconnects feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.models import NetworkEvent, NetworkToken, SessionTeardown, State
from network.tokens import create_token
from tests.factories import EndpointFactory, imsi_for

EVENTS = reverse("api:network_events")
DISCONNECTS = reverse("api:network_disconnects")
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


@pytest.fixture
def client():
    # The core is not a browser: no CSRF token, and it must not need one.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def token(db) -> str:
    return create_token("core-1")[1]


@pytest.fixture
def idle(account, group):
    return EndpointFactory(account=account, state=State.IDLE, primary_group=group)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post(client, body, token: str | None, **kwargs):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = auth(token) if token else {}
    return client.post(
        EVENTS, data=data, content_type="application/json", headers=headers, **kwargs
    )


def event(endpoint, kind="session_start", seconds=0, n=1, **extra) -> dict:
    return {
        "id": f"api-{n}",
        "type": kind,
        "imsi": endpoint.imsis.first().imsi,
        "at": (T0 + timedelta(seconds=seconds)).isoformat(),
        **extra,
    }


# --- authentication -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_wrong_token_is_a_json_401_and_applies_nothing(client, token, idle, headers):
    response = client.post(
        EVENTS,
        data=json.dumps({"events": [event(idle)]}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "token" in response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not NetworkEvent.objects.exists()
    idle.refresh_from_db()
    assert idle.state == State.IDLE


@pytest.mark.django_db
def test_disabled_token_is_refused(client, token, idle):
    NetworkToken.objects.update(enabled=False)
    response = post(client, {"events": [event(idle)]}, token)
    assert response.status_code == 401
    assert not NetworkEvent.objects.exists()


@pytest.mark.django_db
def test_token_use_is_recorded_at_most_once_a_minute(client, token, idle):
    record = NetworkToken.objects.get()
    assert record.last_used_at is None

    post(client, {"events": [event(idle, n=1)]}, token)
    record.refresh_from_db()
    first = record.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=10)

    post(client, {"events": [event(idle, n=2, seconds=1)]}, token)
    record.refresh_from_db()
    assert record.last_used_at == first

    NetworkToken.objects.update(last_used_at=first - timedelta(minutes=2))
    post(client, {"events": [event(idle, n=3, seconds=2)]}, token)
    record.refresh_from_db()
    assert record.last_used_at > first


@pytest.mark.django_db
def test_the_api_sets_no_cookie_and_needs_no_csrf_token(client, token, idle):
    response = post(client, {"events": [event(idle)]}, token)
    assert response.status_code == 200
    assert not response.cookies


# --- the body -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        ("[]", 'no "events" list'),
        ('{"event": []}', 'no "events" list'),
        ('{"events": {"id": "x"}}', 'no "events" list'),
        ('{"events": []}', "empty"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ],
)
def test_a_bad_body_is_a_json_400(client, token, body, message):
    response = post(client, body, token)
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.django_db
def test_more_than_1000_events_is_413_and_applies_nothing(client, token, idle):
    events = [event(idle, kind="attach", n=n, seconds=n) for n in range(1001)]
    response = post(client, {"events": events}, token)
    assert response.status_code == 413
    assert "1,000" in response.json()["error"]
    assert not NetworkEvent.objects.exists()
    idle.refresh_from_db()
    assert idle.last_activity is None


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413(client, token, idle, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    events = [event(idle, kind="attach", n=n, seconds=n) for n in range(30)]
    response = post(client, {"events": events}, token)
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert not NetworkEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "method"), [(EVENTS, "get"), (DISCONNECTS, "post")])
def test_wrong_method_is_a_json_405(client, token, url, method):
    response = getattr(client, method)(url, headers=auth(token))
    assert response.status_code == 405
    assert "Use" in response.json()["error"]


# --- the answer -----------------------------------------------------------------


@pytest.mark.django_db
def test_results_come_in_request_order_with_state_ip_and_reasons(client, token, account, idle):
    pending = EndpointFactory(account=account)
    events = [
        event(idle, "detach", seconds=30, n=1),
        {"id": "api-2", "type": "reboot"},
        event(idle, "session_start", seconds=10, n=3),
        event(pending, "session_start", seconds=5, n=4),
        {"id": "api-5", "type": "attach", "imsi": imsi_for(888_888), "at": T0.isoformat()},
    ]
    response = post(client, {"events": events}, token)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == ["api-1", "api-2", "api-3", "api-4", "api-5"]
    assert results[0] == {"id": "api-1", "status": "accepted", "state": "detached"}
    assert results[1] == {"id": "api-2", "status": "invalid", "reason": "bad_type"}
    assert results[2]["status"] == "accepted" and results[2]["state"] == "active"
    assert results[2]["ip"].startswith("100.64.")
    assert results[3] == {
        "id": "api-4",
        "status": "rejected",
        "reason": "pending",
        "state": "pending",
    }
    assert results[4] == {"id": "api-5", "status": "rejected", "reason": "unknown_imsi"}
    idle.refresh_from_db()
    assert idle.state == State.DETACHED


@pytest.mark.django_db
def test_escaped_nul_and_lone_surrogates_in_the_json_are_invalid_events_not_a_500(
    client, token, idle
):
    body = (
        '{"events": [{"id": "a\\u0000b", "type": "attach", "imsi": "234150000000001", '
        '"at": "2026-03-01T12:00:00Z"}, {"id": "x", "type": "attach", "imsi": "234150000000001", '
        '"apn": "\\ud800", "at": "2026-03-01T12:00:00Z"}]}'
    )
    response = post(client, body, token)
    assert response.status_code == 200
    assert [r["reason"] for r in response.json()["results"]] == ["bad_id", "bad_apn"]
    assert not NetworkEvent.objects.exists()


@pytest.mark.django_db
def test_a_replayed_request_changes_nothing(client, token, idle):
    body = {"events": [event(idle, "session_start", n=1), event(idle, "detach", 1, n=2)]}
    post(client, body, token)
    idle.refresh_from_db()
    before = (idle.state, idle.last_activity)

    replay = post(client, body, token).json()["results"]

    assert [r["status"] for r in replay] == ["duplicate", "duplicate"]
    idle.refresh_from_db()
    assert (idle.state, idle.last_activity) == before
    assert NetworkEvent.objects.count() == 2


@pytest.mark.django_db
def test_a_batch_costs_a_fixed_number_of_queries(
    client, token, account, group, django_assert_max_num_queries
):
    endpoints = [
        EndpointFactory(account=account, state=State.DETACHED, primary_group=group)
        for _ in range(25)
    ]
    events = []
    for n, endpoint in enumerate(endpoints):
        events += [
            event(endpoint, "attach", n, n=3 * n),
            event(endpoint, "session_start", n + 1, n=3 * n + 1),
            event(endpoint, "session_end", n + 2, n=3 * n + 2),
        ]
    # token (and its last use), then network.py's fixed set (see test_network_rules),
    # with the connectivity snapshots read and written once each.
    with django_assert_max_num_queries(20):
        response = post(client, {"events": events}, token)
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}


# --- disconnects ------------------------------------------------------------------


def teardown(endpoint, reason="suspended", minutes=0):
    return SessionTeardown.objects.create(
        account=endpoint.account,
        endpoint=endpoint,
        imsi=endpoint.imsis.first().imsi,
        reason=reason,
        at=T0 + timedelta(minutes=minutes),
    )


@pytest.mark.django_db
def test_disconnects_list_teardowns_after_the_cursor(client, token, account, other_account):
    first = EndpointFactory(account=account, state=State.SUSPENDED)
    second = EndpointFactory(account=other_account, state=State.SUSPENDED)
    teardown(first, "suspended", 1)
    last = teardown(second, "terminated", 2)

    page = client.get(DISCONNECTS, headers=auth(token)).json()

    assert page["disconnects"] == [
        {
            "imsi": first.imsis.first().imsi,
            "iccid": first.iccid,
            "reason": "suspended",
            "at": (T0 + timedelta(minutes=1)).isoformat(),
        },
        {
            "imsi": second.imsis.first().imsi,
            "iccid": second.iccid,
            "reason": "terminated",
            "at": (T0 + timedelta(minutes=2)).isoformat(),
        },
    ]
    assert page["next"] == str(last.pk)
    assert page["more"] is False

    empty = client.get(DISCONNECTS, {"after": page["next"]}, headers=auth(token)).json()
    assert empty == {"disconnects": [], "next": str(last.pk), "more": False}

    third = teardown(first, "suspended", 3)
    newer = client.get(DISCONNECTS, {"after": page["next"]}, headers=auth(token)).json()
    assert [d["at"] for d in newer["disconnects"]] == [third.at.isoformat()]


@pytest.mark.django_db
def test_disconnects_are_paged_by_limit(client, token, account):
    endpoint = EndpointFactory(account=account, state=State.SUSPENDED)
    rows = [teardown(endpoint, minutes=n) for n in range(5)]

    page = client.get(DISCONNECTS, {"limit": 2}, headers=auth(token)).json()
    assert len(page["disconnects"]) == 2 and page["more"] is True
    assert page["next"] == str(rows[1].pk)
    rest = client.get(DISCONNECTS, {"after": page["next"], "limit": 10}, headers=auth(token)).json()
    assert len(rest["disconnects"]) == 3 and rest["more"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{"after": "abc"}, {"after": "-1"}, {"limit": "0"}, {"limit": "5000"}]
)
def test_bad_disconnects_cursor_or_limit_is_a_json_400(client, token, query):
    response = client.get(DISCONNECTS, query, headers=auth(token))
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.django_db
def test_disconnects_need_the_token(client, token):
    response = client.get(DISCONNECTS)
    assert response.status_code == 401
    assert "token" in response.json()["error"]
