"""The event log (docs/connectivity.md "Event log"): Inventory → Activity and
``GET /api/v1/events``: every account event, filters, keyset pages, another
account's events never, and the 30-day purge."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import AccountEvent
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, State
from network import batch as network
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory, GroupFactory
from webhooks import retention

pytestmark = pytest.mark.django_db
URL = reverse("inventory:activity_list")
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


@pytest.fixture
def reader(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def api(account):
    return ApiClient(make_token(account, Role.VIEWER)[1])


def suspend(endpoints, reason="test"):
    ids = [e.pk for e in endpoints]
    return lifecycle.suspend(
        endpoints=Endpoint.objects.filter(pk__in=ids), actor=Actor.SYSTEM, reason=reason
    )


def rows(response) -> list[tuple[str, str]]:
    html = response.content.decode()
    return re.findall(
        r'data-testid="activity-row" data-type="([a-z_.]+)">'
        r'.*?<td class="mono">(?:<a [^>]*>)?(\d*)',
        html,
        re.S,
    )


def test_every_event_is_listed_without_any_webhook(reader, api, account, group):
    endpoint = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    imsi = endpoint.imsis.first().imsi
    network.apply_events(
        events=[
            {"id": "a1", "type": "attach", "imsi": imsi, "at": T0.isoformat(), "plmn": "23415"},
            {
                "id": "a2",
                "type": "detach",
                "imsi": imsi,
                "at": (T0 + timedelta(seconds=5)).isoformat(),
                "plmn": "26201",
            },
        ]
    )
    suspend([endpoint], reason="lost")

    page = reader.get(URL)
    assert page.status_code == 200
    listed = rows(page)
    assert [t for t, _ in listed] == [
        "endpoint.state_changed",  # the suspend, newest first
        "endpoint.network_changed",
        "endpoint.state_changed",  # idle → detached
    ]
    assert {iccid for _, iccid in listed} == {endpoint.iccid}
    html = page.content.decode()
    assert "Vodafone UK (United Kingdom) → Telekom (Germany)" in html
    assert "suspend: detached → suspended (lost)" in html

    answered = api.get("/api/v1/events").json()
    assert [e["type"] for e in answered["results"]] == [t for t, _ in listed]
    assert answered["results"][0]["data"]["reason"] == "lost"
    assert answered["results"][0]["iccid"] == endpoint.iccid
    assert answered["next"] is None


def test_filters_by_type_endpoint_and_time(reader, api, account, group):
    first, second = (
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group) for _ in "ab"
    )
    suspend([first])
    AccountEvent.objects.update(created_at=timezone.now() - timedelta(days=2))
    suspend([second])

    by_endpoint = rows(reader.get(URL, {"endpoint": first.iccid}))
    assert [iccid for _, iccid in by_endpoint] == [first.iccid]
    by_type = rows(reader.get(URL, {"type": "endpoint.updated"}))
    assert by_type == []
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    recent = rows(reader.get(URL, {"from": since}))
    assert [iccid for _, iccid in recent] == [second.iccid]
    older = api.get("/api/v1/events", {"to": since}).json()["results"]
    assert [e["iccid"] for e in older] == [first.iccid]
    typed = api.get("/api/v1/events", {"type": "endpoint.state_changed"}).json()["results"]
    assert len(typed) == 2


def test_a_job_of_many_endpoints_is_listed_whole_page_by_page(reader, api, account, group):
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
        for _ in range(130)
    ]
    suspend(endpoints)  # one statement, one created_at for all 130

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/events", params).json()
        seen += [e["iccid"] for e in page["results"]]
        pages += 1
        cursor = page["next"]
        if not cursor:
            break
    assert pages == 3
    assert sorted(seen) == sorted(e.iccid for e in endpoints)

    portal_seen, url = [], URL
    while url:
        response = reader.get(url if url.startswith("/") else URL + url)
        portal_seen += [iccid for _, iccid in rows(response)]
        match = re.search(r'href="(\?[^"]*cursor=[^"]*)" rel="next"', response.content.decode())
        url = match.group(1).replace("&amp;", "&") if match else ""
    assert sorted(portal_seen) == sorted(seen)


def test_another_accounts_events_are_never_listed(reader, api, other_account):
    group = GroupFactory(account=other_account)
    theirs = EndpointFactory(account=other_account, state=State.ACTIVE, primary_group=group)
    suspend([theirs], reason="northwind-secret")

    for params in ({}, {"endpoint": theirs.iccid}):
        page = reader.get(URL, params)
        assert rows(page) == []
        assert theirs.iccid not in page.content.decode().replace(f'value="{theirs.iccid}"', "")
        assert "northwind-secret" not in page.content.decode()
        assert api.get("/api/v1/events", params).json()["results"] == []


def test_bad_filters_are_a_message_and_a_422(reader, api):
    page = reader.get(URL, {"from": "yesterday", "cursor": "x-y"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "From: Enter a valid date/time." in text
    assert "This page link is broken" in text
    response = api.get("/api/v1/events", {"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert api.get("/api/v1/events", {"type": "endpoint.exploded"}).status_code == 422


def test_htmx_gets_only_the_results(reader, account, group):
    suspend([EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)])
    response = reader.get(URL, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and 'data-testid="activity-table"' in html
    assert "HX-Request" in response["Vary"]


def test_events_older_than_30_days_are_purged(reader, account, group):
    old, new = (
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group) for _ in "ab"
    )
    suspend([old])
    AccountEvent.objects.update(created_at=timezone.now() - timedelta(days=31))
    suspend([new])
    assert retention.purge()["events"] == 1
    assert [iccid for _, iccid in rows(reader.get(URL))] == [new.iccid]


def test_the_page_costs_a_fixed_number_of_queries(
    reader, account, group, django_assert_max_num_queries
):
    suspend([EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)])
    with django_assert_max_num_queries(5):
        small = reader.get(URL)
    suspend(
        [
            EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
            for _ in "abcdefgh"
        ]
    )
    # session, user, memberships, the page; an endpoint filter looks its ICCID up.
    with django_assert_max_num_queries(6):
        large = reader.get(URL, {"endpoint": Endpoint.objects.first().iccid})
    assert small.status_code == large.status_code == 200
