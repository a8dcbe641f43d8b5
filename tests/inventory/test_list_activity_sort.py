"""The list sorted by last activity under a state filter: the rows with
activity and the never-active ones are two index ranges of
``endpoint_acct_state_activity``, and a page that crosses from one into the
other, forwards or backwards, in either order, loses and repeats nothing, in
one query per page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import pagination as listing
from inventory.models import Endpoint, State
from tests.factories import EndpointFactory

NOW = timezone.now()
PER_PAGE = 4


@pytest.fixture
def mixed(account, group):
    """Terminated SIMs, some seen (with ties on the time) and some never seen;
    pending ones, never seen; and active ones, seen more recently than any of
    them, which a state filter must leave out."""
    rows = []
    for n in range(7):
        rows.append(
            EndpointFactory(
                account=account,
                state=State.TERMINATED,
                terminated_at=NOW,
                last_activity=NOW - dt.timedelta(days=30 + n // 2),
                imsis=0,
            )
        )
    rows += [
        EndpointFactory(account=account, state=State.TERMINATED, terminated_at=NOW, imsis=0)
        for _ in range(6)
    ]
    rows += [EndpointFactory(account=account, imsis=0) for _ in range(8)]
    rows += [
        EndpointFactory(
            account=account,
            primary_group=group,
            state=State.ACTIVE,
            last_activity=NOW - dt.timedelta(minutes=n),
            imsis=0,
        )
        for n in range(9)
    ]
    return rows


def expected(rows, sort: str) -> list[str]:
    """Most recent first, never seen last, ICCID ascending; ``last_activity``
    is the exact reverse."""
    ordered = sorted(
        sorted(rows, key=lambda e: e.iccid),
        key=lambda e: (e.last_activity is None, -(e.last_activity or NOW).timestamp()),
    )
    iccids = [e.iccid for e in ordered]
    return iccids if sort == "-last_activity" else iccids[::-1]


def one_page(account, states, ordering, **cursor) -> listing.Page:
    """A page as the list view asks for it, which must cost exactly one query."""
    endpoints = Endpoint.objects.filter(account=account, state__in=states)
    segments = listing.Segments(
        account_id=account.pk, counts_table="usage_statecount", states=tuple(states)
    )
    with CaptureQueriesContext(connection) as queries:
        page = listing.fetch_page(
            endpoints=endpoints,
            sort=ordering,
            per_page=PER_PAGE,
            groups=[],
            segments=segments,
            **{key: listing.decode_cursor(value, ordering) for key, value in cursor.items()},
        )
    assert len(queries) == 1
    return page


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["-last_activity", "last_activity"])
@pytest.mark.parametrize("states", [["terminated"], ["pending"], ["pending", "terminated"]])
def test_pages_cross_between_seen_and_never_seen_both_ways(account, mixed, sort, states):
    ordering = listing.SORTS[sort]
    matching = [e for e in mixed if e.state in states]
    pages, prev_cursors, after = [], [], None
    while True:
        page = one_page(account, states, ordering, **({"after": after} if after else {}))
        pages.append([e.iccid for e in page.rows])
        prev_cursors.append(page.prev_cursor)
        if not page.has_next:
            break
        after = page.next_cursor
    assert [iccid for rows in pages for iccid in rows] == expected(matching, sort)
    assert len(pages) == -(-len(matching) // PER_PAGE)
    for index in range(len(pages) - 1, 0, -1):
        back = one_page(account, states, ordering, before=prev_cursors[index])
        assert [e.iccid for e in back.rows] == pages[index - 1]
        assert back.has_prev == (index > 1)
        assert back.has_next


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["-last_activity", "last_activity"])
def test_a_state_never_seen_lists_every_row_on_one_page(account, mixed, sort):
    """Pending SIMs were never active: the first page of them sorted by activity
    is the whole never-seen range, whichever end of the ordering it is at."""
    pending = [e for e in mixed if e.state == State.PENDING]
    endpoints = Endpoint.objects.filter(account=account, state=State.PENDING)
    page = listing.fetch_page(
        endpoints=endpoints, sort=listing.SORTS[sort], per_page=len(pending), groups=[]
    )
    assert [e.iccid for e in page.rows] == expected(pending, sort)
    assert not page.has_next
