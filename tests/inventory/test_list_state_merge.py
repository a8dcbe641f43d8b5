"""Pages read one range per state and merged in sort order (several states, a
group sorted by activity, "inactive for" sorted by state), and "inactive for"
read as the range before its cutoff plus the never-seen range: walked page by
page, forwards and back, they hold exactly the rows and the order of a plain
``ORDER BY`` over the whole filtered set, one query a page."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory import pagination as listing
from inventory.filters import EndpointFilterSet
from inventory.models import Endpoint, Group, State
from tests.factories import EndpointFactory, GroupFactory

NOW = timezone.now()
PER_PAGE = 4
#: Recent, a tie just inside 30 days, old ties, and never seen.
ACTIVITY = [
    NOW - dt.timedelta(minutes=5),
    NOW - dt.timedelta(days=2),
    NOW - dt.timedelta(days=40),
    NOW - dt.timedelta(days=40),
    NOW - dt.timedelta(days=90),
    None,
]
SORTS = ["state", "-state", "last_activity", "-last_activity", "iccid", "-name", "-group"]
FILTERS = [
    {"state": ["suspended", "detached"]},
    {"state": ["idle", "pending", "terminated"], "inactive": "30"},
    {"state": ["active", "suspended"], "tag": "t"},
    {"inactive": "30"},
    {"inactive": "30", "tag": "t"},
    {"group": "first"},
    {"group": "first", "state": ["active", "terminated"]},
    {"group": "second", "inactive": "30"},
    {"state": ["pending", "idle"], "group": "first"},
    {"state": ["active"], "inactive": "30"},
    {"state": ["idle"], "inactive": "30", "tag": "t"},
]


@pytest.fixture
def fleet(account, group):
    """Every state, in two groups and none, with activity ties and never-seen
    SIMs in most states (in-service ones seen long ago too), and a tag on
    every fifth; the other account's rows must never show."""
    second = GroupFactory(account=account, vslice=group.vslice, name="second")
    rows = []
    for n in range(60):
        state = State.values[n % len(State.values)]
        in_service = state in (State.ACTIVE, State.IDLE, State.DETACHED)
        rows.append(
            EndpointFactory(
                account=account,
                state=state,
                terminated_at=NOW if state == State.TERMINATED else None,
                primary_group=(group if n % 4 else second) if in_service or n % 3 else None,
                last_activity=None
                if state == State.PENDING
                else ACTIVITY[(n // 6) % len(ACTIVITY)],
                name=f"unit-{n % 5}",
                tags=["t"] if n % 5 == 1 else [],
                imsis=0,
            )
        )
    return {"first": group, "second": second, "rows": rows}


def _filterset(account, fleet, params: dict) -> EndpointFilterSet:
    data = {**params}
    if "group" in data:
        data["group"] = str(fleet[data["group"]].pk)
    filterset = EndpointFilterSet(
        data,
        Endpoint.objects.filter(account=account),
        account_id=account.pk,
        groups=list(Group.objects.filter(account=account)),
    )
    assert filterset.is_valid(), filterset.errors
    return filterset


def _segments(account, filterset: EndpointFilterSet) -> listing.Segments:
    data = filterset.form.cleaned_data
    return listing.Segments(
        account_id=account.pk,
        counts_table="usage_statecount",
        states=tuple(data.get("state") or ()),
        group_id=int(data["group"]) if data.get("group") else None,
        inactive_before=filterset.inactive_before,
    )


def _page(filterset, segments, ordering, **cursor) -> listing.Page:
    groups = filterset.groups
    with CaptureQueriesContext(connection) as queries:
        page = listing.fetch_page(
            endpoints=filterset.qs,
            sort=ordering,
            per_page=PER_PAGE,
            groups=groups,
            segments=segments,
            any_state=filterset.qs_any_state,
            **{key: listing.decode_cursor(value, ordering) for key, value in cursor.items()},
        )
    assert len(queries) == 1
    return page


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize(
    "params", FILTERS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items())
)
def test_pages_are_the_plain_order_of_the_filtered_set(account, other_account, fleet, params, sort):
    EndpointFactory(account=other_account, state=State.SUSPENDED, tags=["t"], imsis=0)
    filterset = _filterset(account, fleet, params)
    segments = _segments(account, filterset)
    ordering = listing.SORTS[sort]
    whole = list(filterset.qs.order_by(*ordering.order_by()).values_list("iccid", flat=True))
    assert whole, "every filter matches some rows"

    pages, prev_cursors, after = [], [], None
    while True:
        page = _page(filterset, segments, ordering, **({"after": after} if after else {}))
        pages.append([row.iccid for row in page.rows])
        prev_cursors.append(page.prev_cursor)
        if not page.has_next:
            break
        after = page.next_cursor
    assert [iccid for rows in pages for iccid in rows] == whole
    for index in range(len(pages) - 1, 0, -1):
        back = _page(filterset, segments, ordering, before=prev_cursors[index])
        assert [row.iccid for row in back.rows] == pages[index - 1]
        assert back.has_prev == (index > 1)


def test_inactive_for_reads_seen_before_the_cutoff_and_never_seen(account, fleet):
    """The cutoff the filter used is the one handed to the pagination: rows seen
    40 and 90 days ago and never-seen ones, not those of the last 2 days."""
    filterset = _filterset(account, fleet, {"inactive": "30"})
    cutoff = filterset.inactive_before
    rows = list(filterset.qs)
    assert cutoff is not None and filterset.inactive_before == cutoff
    assert {row.last_activity for row in rows} == {ACTIVITY[2], ACTIVITY[4], None}
    assert len(rows) == sum(
        1 for e in fleet["rows"] if e.last_activity is None or e.last_activity < ACTIVITY[1]
    )


@pytest.mark.parametrize("bound", ["above", "equal", "below"])
def test_inactive_bounded_count_counts_both_ranges(account, fleet, monkeypatch, bound):
    """Seen before the cutoff and never seen, counted as two ranges: the same as
    one count over the filter, bounded the same way."""
    cutoff = NOW - dt.timedelta(days=30)
    matching = sum(
        1
        for e in fleet["rows"]
        if e.state in ("pending", "suspended")
        and (e.last_activity is None or e.last_activity < cutoff)
    )
    assert matching > 5
    limit = {"above": 1000, "equal": matching, "below": 5}[bound]
    monkeypatch.setattr(listing, "COUNT_LIMIT", limit)
    filterset = _filterset(account, fleet, {"inactive": "30", "state": ["pending", "suspended"]})
    assert listing.bounded_count(filterset.qs, filterset.inactive_before) == (
        min(matching, limit),
        matching > limit,
    )


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator)
    return client


@pytest.mark.parametrize("sort", ["iccid", "state", "-last_activity"])
def test_the_list_page_under_inactive_for_is_its_first_page(op_client, account, fleet, sort):
    """Through the view: the first page in order, with a Next link and no
    Previous one, and the Next page carries on from it."""
    filterset = _filterset(account, fleet, {"inactive": "30"})
    whole = list(
        filterset.qs.order_by(*listing.SORTS[sort].order_by()).values_list("iccid", flat=True)
    )
    url = reverse("inventory:endpoint_list")
    response = op_client.get(url, {"inactive": 30, "sort": sort, "per_page": 25})
    html = response.content.decode()
    assert _rows(html) == whole[:25]
    assert 'rel="prev"' not in html
    following = re.search(r'rel="next" href="([^"]+)"', html)
    assert following is not None
    assert _rows(op_client.get(unescape(following.group(1))).content.decode()) == whole[25:50]


def _rows(html: str) -> list[str]:
    return re.findall(r'<td class="mono"><a href="/inventory/endpoints/(\d+)/">', html)
