"""Inventory → Network events: scoped to the current account, filterable, paged
by keyset, at a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from inventory.models import EventStatus, EventType, NetworkEvent, State
from inventory.views import events as events_view
from tests.factories import EndpointFactory, GroupFactory

URL = reverse("inventory:event_list")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_ids = iter(range(1, 10**9))


def stored(endpoint, *, minutes=0, type=EventType.ATTACH, status=EventStatus.ACCEPTED, **extra):
    """A stored event of ``endpoint`` (as network.py writes them)."""
    return NetworkEvent.objects.create(
        event_id=f"page-{next(_ids)}",
        account=endpoint.account,
        endpoint=endpoint,
        group=endpoint.primary_group,
        type=type,
        imsi=endpoint.imsis.first().imsi,
        at=T0 + timedelta(minutes=minutes),
        status=status,
        **extra,
    )


@pytest.fixture
def car(account, group):
    return EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)


@pytest.fixture
def foreign(other_account):
    group = GroupFactory(account=other_account, name="northwind-sensors")
    return EndpointFactory(account=other_account, state=State.IDLE, primary_group=group)


def shown_ids(response) -> list[str]:
    return [row.event.event_id for row in response.context["rows"]]


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.django_db
def test_page_shows_the_accounts_events_newest_first_with_their_columns(
    client, viewer, car, foreign, group
):
    older = stored(car, minutes=1, type=EventType.ATTACH)
    newer = stored(
        car,
        minutes=2,
        type=EventType.SESSION_START,
        status=EventStatus.REJECTED,
        reason="imei_mismatch",
    )
    with_ip = stored(car, minutes=3, type=EventType.SESSION_START, ip="100.64.0.7")
    stored(foreign, minutes=4)
    client.force_login(viewer)

    response = client.get(URL)

    assert response.status_code == 200
    assert shown_ids(response) == [with_ip.event_id, newer.event_id, older.event_id]
    html = response.content.decode()
    assert html.count('data-testid="event-row"') == 3
    detail = reverse("inventory:endpoint_detail", args=[car.iccid])
    assert f'href="{detail}"' in html
    assert group.name in html
    assert car.imsis.first().imsi in html
    assert "IMEI does not match the lock" in html
    assert "100.64.0.7" in html
    assert "Session start" in html and "Rejected" in html
    assert foreign.iccid not in html


@pytest.mark.django_db
def test_another_accounts_iccid_shows_nothing(client, viewer, car, foreign):
    stored(car)
    stored(foreign)
    client.force_login(viewer)

    response = client.get(URL, {"endpoint": foreign.iccid})

    assert shown_ids(response) == []
    assert "No events match these filters." in response.content.decode()
    after_filters = response.content.decode().split('data-testid="event-filters"')[1]
    assert foreign.iccid not in after_filters.split("</form>")[1]


@pytest.mark.django_db
def test_endpoint_filter_shows_only_that_endpoints_events(client, viewer, account, group, car):
    other = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    mine = stored(car)
    stored(other)
    client.force_login(viewer)

    assert shown_ids(client.get(URL, {"endpoint": f" {car.iccid} "})) == [mine.event_id]


@pytest.mark.django_db
def test_type_status_and_time_filters(client, viewer, car):
    attach = stored(car, minutes=0, type=EventType.ATTACH)
    rejected = stored(
        car,
        minutes=10,
        type=EventType.SESSION_START,
        status=EventStatus.REJECTED,
        reason="suspended",
    )
    accepted = stored(car, minutes=20, type=EventType.SESSION_START)
    detach = stored(car, minutes=30, type=EventType.DETACH)
    client.force_login(viewer)

    assert shown_ids(client.get(URL, {"type": "session_start"})) == [
        accepted.event_id,
        rejected.event_id,
    ]
    assert shown_ids(client.get(URL, {"status": "rejected"})) == [rejected.event_id]
    assert shown_ids(client.get(URL, {"from": "2026-03-01T12:10", "to": "2026-03-01T12:20"})) == [
        accepted.event_id,
        rejected.event_id,
    ]
    assert shown_ids(client.get(URL, {"from": "2026-03-01T12:25"})) == [detach.event_id]
    assert shown_ids(client.get(URL, {"to": "2026-03-01T12:05"})) == [attach.event_id]
    combined = client.get(
        URL, {"type": "session_start", "status": "accepted", "from": "2026-03-01T12:00"}
    )
    assert shown_ids(combined) == [accepted.event_id]
    html = combined.content.decode()
    assert 'value="2026-03-01T12:00"' in html
    assert '<option value="session_start" selected>' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"type": "reboot"}, "Select a valid choice"),
        ({"status": "maybe"}, "Select a valid choice"),
        ({"from": "yesterday"}, "Enter a valid date/time"),
        ({"from": "2026-03-02T00:00", "to": "2026-03-01T00:00"}, "“To” is before “From”."),
        ({"cursor": "abc"}, "This page link is broken"),
        ({"endpoint": "8" * 30}, "at most 20 characters"),
    ],
)
def test_bad_filters_are_explained_not_a_500(client, viewer, car, query, message):
    stored(car)
    client.force_login(viewer)

    response = client.get(URL, query)

    assert response.status_code == 200
    assert response.context["rows"] == []
    assert message in response.content.decode()


@pytest.mark.django_db
def test_pages_by_keyset_keeping_filters_and_ties_in_order(client, viewer, car, monkeypatch):
    monkeypatch.setattr(events_view, "PAGE_SIZE", 3)
    # Seven events, two pairs at the same time: the id breaks the tie.
    made = [stored(car, minutes=m, type=EventType.DETACH) for m in (0, 1, 1, 2, 3, 3, 4)]
    stored(car, minutes=5, type=EventType.ATTACH)  # filtered out
    client.force_login(viewer)
    newest_first = [e.event_id for e in sorted(made, key=lambda e: (e.at, e.pk), reverse=True)]

    seen = []
    response = client.get(URL, {"type": "detach"})
    while True:
        seen += shown_ids(response)
        older = response.context["older_url"]
        if not older:
            break
        assert "type=detach" in older
        response = client.get(URL + older)
    assert seen == newest_first
    assert 'href="?type=detach"' in response.content.decode()  # back to the newest


@pytest.mark.django_db
def test_query_count_does_not_grow_with_rows_or_filters(
    client, viewer, account, group, django_assert_max_num_queries
):
    endpoints = [
        EndpointFactory(account=account, state=State.IDLE, primary_group=group) for _ in range(5)
    ]
    for n in range(60):
        stored(endpoints[n % 5], minutes=n)
    client.force_login(viewer)

    # session, user, membership, one page of events with endpoint and group.
    with django_assert_max_num_queries(4):
        full = client.get(URL)
    with django_assert_max_num_queries(4):
        filtered = client.get(URL, {"endpoint": endpoints[0].iccid, "type": "attach"})
    assert len(full.context["rows"]) == events_view.PAGE_SIZE
    assert len(filtered.context["rows"]) == 12
