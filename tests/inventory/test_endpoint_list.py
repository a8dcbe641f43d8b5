"""The endpoint list: scoping, columns, filters, search, sorting, keyset pages,
bounded count, HTMX fragments and the number of queries per page."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory import pagination as listing
from inventory.models import Endpoint, Group, State
from tests.factories import (
    EndpointFactory,
    GroupFactory,
    IMSIFactory,
    VSliceFactory,
    iccid_for,
)

URL = reverse("inventory:endpoint_list")
NOW = timezone.now()


def iccids(response) -> list[str]:
    """The ICCIDs of the table rows, in page order."""
    html = response.content.decode()
    return re.findall(r'<td class="mono"><a href="/inventory/endpoints/(\d+)/">', html)


def link(response, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', response.content.decode())
    return unescape(match.group(1)) if match else None


def page_text(response) -> str:
    return re.sub(r"\s+", " ", unescape(response.content.decode()))


def in_service(account, group, **kwargs):
    return EndpointFactory(
        account=account, primary_group=group, state=kwargs.pop("state", State.ACTIVE), **kwargs
    )


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator)
    return client


def test_anonymous_is_sent_to_login(client, account):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_empty_account_says_so(op_client):
    response = op_client.get(URL)
    assert response.status_code == 200
    assert 'data-testid="empty-account"' in response.content.decode()
    assert "This account has no endpoints yet" in page_text(response)
    assert iccids(response) == []


def test_lists_only_the_current_accounts_endpoints(op_client, account, other_account, group):
    mine = in_service(account, group, name="truck-1")
    theirs = EndpointFactory(account=other_account, name="truck-2")
    response = op_client.get(URL)
    assert iccids(response) == [mine.iccid]
    assert theirs.iccid not in response.content.decode()
    assert "1 endpoint" in page_text(response)


def test_row_shows_columns_and_labelled_checkbox(op_client, account, group):
    seen = NOW - dt.timedelta(hours=3)
    endpoint = in_service(account, group, name="Van 7", last_activity=seen, state=State.IDLE)
    html = op_client.get(URL).content.decode()
    assert f'aria-label="Select {endpoint.iccid}"' in html
    assert f'name="ids" value="{endpoint.iccid}"' in html
    assert f'href="/inventory/endpoints/{endpoint.iccid}/"' in html
    assert "Van 7" in html
    assert '<span class="badge state-badge state-idle">Idle</span>' in html
    assert group.name in html
    assert f'<time datetime="{seen.isoformat()}"' in html
    assert "3\xa0hours ago" in html or "3 hours ago" in html


def test_viewer_sees_no_checkboxes_or_action_buttons(client, viewer, account, group):
    in_service(account, group)
    client.force_login(viewer)
    html = client.get(URL).content.decode()
    assert 'name="ids"' not in html
    assert "Assign to group</button>" not in html
    assert "Suspend</button>" not in html
    assert "Terminate</button>" not in html


def test_operator_sees_no_terminate_button_admin_does(client, operator, admin_member, account):
    EndpointFactory(account=account)
    client.force_login(operator)
    html = client.get(URL).content.decode()
    assert "Suspend</button>" in html
    assert "Terminate</button>" not in html
    client.force_login(admin_member)
    assert "Terminate</button>" in client.get(URL).content.decode()


def test_optional_columns_reference_and_tags(op_client, account):
    EndpointFactory(account=account, reference="PO-4471", tags=["fleet-eu"])
    plain = op_client.get(URL).content.decode()
    assert "PO-4471" not in plain
    shown = op_client.get(URL, {"columns": "reference,tags"}).content.decode()
    assert "PO-4471" in shown
    assert ">fleet-eu<" in shown


# --- filters -----------------------------------------------------------------------


def test_filter_by_several_states(op_client, account, group):
    active = in_service(account, group, state=State.ACTIVE)
    idle = in_service(account, group, state=State.IDLE)
    EndpointFactory(account=account, state=State.PENDING)
    response = op_client.get(URL, {"state": ["active", "idle"]})
    assert sorted(iccids(response)) == sorted([active.iccid, idle.iccid])


def test_filter_by_group(op_client, account, group):
    other_group = GroupFactory(account=account, vslice=group.vslice)
    mine = in_service(account, group)
    in_service(account, other_group)
    assert iccids(op_client.get(URL, {"group": group.pk})) == [mine.iccid]


def test_other_accounts_group_is_a_form_error_with_no_rows(op_client, account, other_account):
    foreign = GroupFactory(account=other_account)
    EndpointFactory(account=other_account, primary_group=foreign, state=State.ACTIVE)
    EndpointFactory(account=account)
    response = op_client.get(URL, {"group": foreign.pk})
    assert response.status_code == 200
    assert iccids(response) == []
    assert "That group is not one of this account's groups." in page_text(response)


def test_filter_by_tag_case_insensitive(op_client, account):
    tagged = EndpointFactory(account=account, tags=["fleet-eu", "telematics"])
    EndpointFactory(account=account, tags=["fleet-us"])
    assert iccids(op_client.get(URL, {"tag": "Fleet-EU"})) == [tagged.iccid]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"state": "sleeping"}, "“sleeping” is not a state."),
        ({"tag": "bad tag!"}, "is not a valid tag"),
        ({"tag": "a b"}, "Filter by one tag at a time."),
        ({"group": "abc"}, "That group is not one of this account's groups."),
        ({"q": "ab"}, "Type at least 3 characters"),
        ({"q": "x" * 300}, "Ensure this value has at most 100 characters"),
    ],
)
def test_bad_filter_values_get_a_message_and_no_rows(op_client, account, params, message):
    EndpointFactory(account=account)
    response = op_client.get(URL, params)
    assert response.status_code == 200
    assert message in page_text(response)
    assert iccids(response) == []


def test_filter_result_empty_has_its_own_message(op_client, account):
    EndpointFactory(account=account, state=State.PENDING)
    response = op_client.get(URL, {"state": "suspended"})
    assert "No endpoints match these filters." in page_text(response)
    assert 'data-testid="empty-account"' not in response.content.decode()


# --- search --------------------------------------------------------------------------


@pytest.fixture
def searchable(account, other_account, group):
    target = in_service(account, group, name="Harvester North", reference="PO-99812", imsis=0)
    IMSIFactory(endpoint=target, imsi="234150000123456")
    IMSIFactory(endpoint=target, imsi="23410987654321")
    decoy = in_service(account, group, name="Tractor South", reference="INV-1", imsis=0)
    IMSIFactory(endpoint=decoy, imsi="234150000999999")
    foreign = EndpointFactory(account=other_account, name="Harvester North", imsis=0)
    IMSIFactory(endpoint=foreign, imsi="234150000123457")
    return target, decoy, foreign


def _search(op_client, q):
    return iccids(op_client.get(URL, {"q": q}))


def test_search_full_iccid(op_client, searchable):
    target, _, _ = searchable
    assert _search(op_client, target.iccid) == [target.iccid]


def test_search_full_iccid_with_spaces_from_a_label(op_client, searchable):
    target, _, _ = searchable
    spaced = " ".join(target.iccid[i : i + 4] for i in range(0, len(target.iccid), 4))
    assert _search(op_client, spaced) == [target.iccid]


def test_search_iccid_prefix(op_client, searchable):
    target, decoy, _ = searchable
    common = 0
    while target.iccid[common] == decoy.iccid[common]:
        common += 1
    assert _search(op_client, target.iccid[: common + 1]) == [target.iccid]
    assert sorted(_search(op_client, target.iccid[:common])) == sorted([target.iccid, decoy.iccid])


def test_search_iccid_suffix(op_client, searchable):
    target, _, _ = searchable
    assert _search(op_client, target.iccid[-6:]) == [target.iccid]


def test_search_full_imsi_and_imsi_suffix(op_client, searchable):
    target, _, _ = searchable
    assert _search(op_client, "234150000123456") == [target.iccid]
    assert _search(op_client, "23410987654321") == [target.iccid]
    assert _search(op_client, "123456") == [target.iccid]


def test_search_imsi_prefix_from_twelve_digits(op_client, searchable):
    target, _, _ = searchable
    assert _search(op_client, "234109876543") == [target.iccid]
    # Shorter, it names an operator's batch rather than a SIM: not an IMSI prefix.
    assert _search(op_client, "2341098765") == []


def test_search_short_digits_that_are_not_an_iccid_start(op_client, searchable):
    response = op_client.get(URL, {"q": "123"})
    assert "Type at least 4 digits" in page_text(response)
    assert iccids(response) == []


def test_search_first_digits_of_every_iccid(op_client, searchable):
    target, decoy, _ = searchable
    for q in ("8", "89", "8944"):
        assert sorted(_search(op_client, q)) == sorted([target.iccid, decoy.iccid])


def test_search_name_and_reference_contains_case_insensitive(op_client, searchable):
    target, decoy, _ = searchable
    assert _search(op_client, "harvest") == [target.iccid]
    assert _search(op_client, "po-998") == [target.iccid]
    assert _search(op_client, "SOUTH") == [decoy.iccid]


def test_search_never_crosses_accounts(op_client, searchable):
    _, _, foreign = searchable
    assert _search(op_client, foreign.iccid) == []
    assert _search(op_client, "234150000123457") == []


def test_search_with_like_wildcards_is_literal(op_client, account):
    EndpointFactory(account=account, name="abcdef")
    assert _search(op_client, "a%c") == []
    assert _search(op_client, "b_d") == []


# --- sorting and keyset pages -------------------------------------------------------


@pytest.fixture
def fleet(account, group):
    """23 endpoints with repeated names, states, groups and activity times, and
    some never seen, so every sort has ties and NULLs to get right."""
    second = GroupFactory(account=account, vslice=group.vslice)
    rows = []
    for n in range(23):
        if n % 5 == 0:
            rows.append(EndpointFactory(account=account, name=f"unit-{n % 3}", imsis=0))
            continue
        rows.append(
            EndpointFactory(
                account=account,
                name=f"unit-{n % 3}",
                primary_group=group if n % 2 else second,
                state=[State.ACTIVE, State.IDLE, State.DETACHED][n % 3],
                last_activity=NOW - dt.timedelta(minutes=n % 4),
                imsis=0,
            )
        )
    return rows


def _by_group_name(endpoint) -> tuple:
    """The group sort's promise: by group name (then id), no group last."""
    group = endpoint.primary_group
    return (group is None, (group.name, group.pk) if group else ("", 0))


def _expected(rows, sort: str) -> list[str]:
    """The order each sort promises, computed independently of the SQL."""
    by_iccid = sorted(rows, key=lambda e: e.iccid)
    if sort in ("iccid", "-iccid"):
        ordered = by_iccid
    elif sort in ("name", "-name"):
        ordered = sorted(by_iccid, key=lambda e: e.name)
    elif sort in ("state", "-state"):
        ordered = sorted(by_iccid, key=lambda e: e.state)
    elif sort in ("group", "-group"):
        ordered = sorted(by_iccid, key=_by_group_name)
    else:  # -last_activity: most recent first, never seen last, ICCID ascending
        ordered = sorted(
            by_iccid,
            key=lambda e: (e.last_activity is None, -(e.last_activity or NOW).timestamp()),
        )
        return [e.iccid for e in (ordered if sort == "-last_activity" else ordered[::-1])]
    ordered = [e.iccid for e in ordered]
    return ordered[::-1] if sort.startswith("-") else ordered


@pytest.mark.parametrize("sort", sorted(listing.SORTS))
def test_each_sort_orders_with_iccid_tie_breaker(op_client, fleet, sort):
    response = op_client.get(URL, {"sort": sort, "per_page": 250})
    assert iccids(response) == _expected(fleet, sort)


@pytest.mark.parametrize("sort", sorted(listing.SORTS))
def test_keyset_pages_forward_and_back_lose_and_repeat_nothing(account, fleet, sort):
    """Pages of 5 over 23 rows with ties and NULLs: forwards they add up to the
    whole ordering; backwards each page is the one seen before it."""
    endpoints = Endpoint.objects.filter(account=account)
    groups = list(Group.objects.filter(account=account))
    ordering = listing.SORTS[sort]
    pages, prev_cursors, after = [], [], None
    while True:
        page = listing.fetch_page(
            endpoints=endpoints,
            sort=ordering,
            per_page=5,
            groups=groups,
            after=listing.decode_cursor(after, ordering) if after else None,
        )
        pages.append([e.iccid for e in page.rows])
        prev_cursors.append(page.prev_cursor)
        if not page.has_next:
            break
        after = page.next_cursor
    assert [iccid for rows in pages for iccid in rows] == _expected(fleet, sort)
    assert len(pages) == 5
    for index in range(len(pages) - 1, 0, -1):
        back = listing.fetch_page(
            endpoints=endpoints,
            sort=ordering,
            per_page=5,
            groups=groups,
            before=listing.decode_cursor(prev_cursors[index], ordering),
        )
        assert [e.iccid for e in back.rows] == pages[index - 1]
        assert back.has_prev == (index > 1)
        assert back.has_next


@pytest.mark.parametrize("sort", ["group", "-group"])
@pytest.mark.parametrize(
    "states", [["pending"], ["active"], ["idle", "pending"], ["detached"], ["suspended"], []]
)
def test_group_sort_with_states_skips_only_segments_without_a_match(
    op_client, account, fleet, group, sort, states
):
    """The group sort skips the groups (and the ungrouped segment) that the
    kept counts say hold no endpoint in the filtered states; what it shows is
    still every match, in order. The fleet's pending endpoints have no group,
    its in-service ones all have one; one pending endpoint in ``group`` and an
    empty group make both kinds of segment."""
    GroupFactory(account=account, vslice=group.vslice, name="aaa-empty")
    fleet = [*fleet, EndpointFactory(account=account, primary_group=group, imsis=0)]
    params = {"sort": sort, "per_page": 250}
    if states:
        params["state"] = states
    response = op_client.get(URL, params)
    matching = [e for e in fleet if not states or e.state in states]
    assert iccids(response) == _expected(matching, sort)


@pytest.mark.parametrize("sort", sorted(listing.SORTS))
def test_state_and_group_filters_the_counts_rule_out_show_nothing_else_everything(
    op_client, account, fleet, group, sort
):
    """A state + group filter the kept counts say nothing matches is answered
    without reading a range; one that matches still lists every match."""
    pending = EndpointFactory(account=account, primary_group=group, imsis=0)
    other = GroupFactory(account=account, vslice=group.vslice, name="zzz-other")
    shown = op_client.get(URL, {"state": "pending", "group": group.pk, "sort": sort})
    assert iccids(shown) == [pending.iccid]
    assert iccids(op_client.get(URL, {"state": "pending", "group": other.pk, "sort": sort})) == []
    idle = [e for e in fleet if e.state == State.IDLE and e.primary_group_id == group.pk]
    both = op_client.get(URL, {"state": "idle", "group": group.pk, "sort": sort, "per_page": 250})
    assert iccids(both) == _expected(idle, sort)


def test_next_and_previous_links_walk_the_list(op_client, account):
    rows = sorted(EndpointFactory.create_batch(60, account=account, imsis=0), key=lambda e: e.iccid)
    first = op_client.get(URL, {"per_page": 25})
    assert iccids(first) == [e.iccid for e in rows[:25]]
    assert link(first, "prev") is None
    second = op_client.get(link(first, "next"))
    assert iccids(second) == [e.iccid for e in rows[25:50]]
    third = op_client.get(link(second, "next"))
    assert iccids(third) == [e.iccid for e in rows[50:]]
    assert link(third, "next") is None
    back = op_client.get(link(third, "prev"))
    assert iccids(back) == [e.iccid for e in rows[25:50]]
    assert iccids(op_client.get(link(back, "prev"))) == [e.iccid for e in rows[:25]]


def test_filters_are_kept_in_page_and_sort_links(op_client, account, group):
    for _ in range(30):
        in_service(account, group, imsis=0)
    response = op_client.get(URL, {"state": "active", "per_page": 25, "sort": "-iccid"})
    nxt = link(response, "next")
    assert "state=active" in nxt and "per_page=25" in nxt and "sort=-iccid" in nxt
    assert "sort=name" in response.content.decode()


@pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoiaWNjaWQifQ:bad:sig"])
def test_bad_cursor_shows_first_page_with_a_message(op_client, account, cursor):
    rows = sorted(EndpointFactory.create_batch(30, account=account, imsis=0), key=lambda e: e.iccid)
    response = op_client.get(URL, {"per_page": 25, "after": cursor})
    assert response.status_code == 200
    assert iccids(response) == [e.iccid for e in rows[:25]]
    assert "That page link is no longer valid" in page_text(response)


def test_cursor_of_another_sort_is_refused(op_client, account):
    EndpointFactory.create_batch(30, account=account, imsis=0)
    by_name = op_client.get(URL, {"per_page": 25, "sort": "name"})
    cursor = re.search(r"after=([^&\"]+)", unescape(link(by_name, "next"))).group(1)
    response = op_client.get(f"{URL}?per_page=25&sort=state&after={cursor}")
    assert "That page link is no longer valid" in page_text(response)


# --- the group sort: by the group's name ----------------------------------------------


@pytest.fixture
def named_groups(account):
    """Five groups made in the opposite order of their names (so their ids run
    against the names), 72 endpoints spread over them with interleaved ICCIDs,
    and 10 without a group: 82 rows, four pages of 25."""
    vslice = VSliceFactory(account=account)
    groups = [
        GroupFactory(account=account, vslice=vslice, name=name)
        for name in ("echo", "delta", "charlie", "bravo", "alpha")
    ]
    endpoints = Endpoint.objects.bulk_create(
        Endpoint(
            account=account,
            iccid=iccid_for(600_000 + n),
            primary_group=None if n % 8 == 0 else groups[(n * 3) % 5],
            state=State.PENDING if n % 8 == 0 else State.ACTIVE,
        )
        for n in range(82)
    )
    return groups, endpoints


def _by_group_names(endpoints, sort: str) -> list[str]:
    """Python's sorted() by (group name, ICCID), no group last; reversed for -group."""
    ordered = [e.iccid for e in sorted(endpoints, key=lambda e: (_by_group_name(e), e.iccid))]
    return ordered[::-1] if sort.startswith("-") else ordered


def _walk(client, params: dict) -> tuple[list[list[str]], object]:
    """Every page of the list by its Next links; the last response."""
    response = client.get(URL, {**params, "per_page": 25})
    pages = [iccids(response)]
    while nxt := link(response, "next"):
        response = client.get(nxt)
        pages.append(iccids(response))
    return pages, response


@pytest.mark.parametrize("sort", ["group", "-group"])
def test_group_sort_is_by_name_then_iccid_over_pages_both_ways(op_client, named_groups, sort):
    groups, endpoints = named_groups
    assert [g.pk for g in sorted(groups, key=lambda g: g.name)] == sorted(
        (g.pk for g in groups), reverse=True
    )
    expected = _by_group_names(endpoints, sort)

    pages, last = _walk(op_client, {"sort": sort})
    assert [len(page) for page in pages] == [25, 25, 25, 7]
    assert [iccid for page in pages for iccid in page] == expected
    assert 'data-testid="endpoint-table"' in last.content.decode()

    # Back from the last page by the Previous links: each page as it was.
    response = last
    for index in range(len(pages) - 2, -1, -1):
        response = op_client.get(link(response, "prev"))
        assert iccids(response) == pages[index]
    assert link(response, "prev") is None


def test_group_sort_htmx_fragment_pages_the_same(op_client, named_groups):
    expected = _by_group_names(named_groups[1], "group")
    first = op_client.get(URL, {"sort": "group", "per_page": 25}, headers={"HX-Request": "true"})
    html = first.content.decode()
    assert "<html" not in html and iccids(first) == expected[:25]
    second = op_client.get(link(first, "next"), headers={"HX-Request": "true"})
    assert "<html" not in second.content.decode()
    assert iccids(second) == expected[25:50]
    assert 'aria-sort="ascending"' in html and "col-group" in html


def test_group_sort_cursor_keeps_its_place_when_a_group_is_added(op_client, account, named_groups):
    """The cursor holds the group's name and id, not its rank: a group added
    before it between two pages neither repeats nor skips a row."""
    before, _ = _walk(op_client, {"sort": "group"})
    first = op_client.get(URL, {"sort": "group", "per_page": 25})
    newcomer = GroupFactory(account=account, vslice=named_groups[0][0].vslice, name="aaa")
    EndpointFactory.create_batch(
        3, account=account, primary_group=newcomer, state=State.ACTIVE, imsis=0
    )
    assert iccids(op_client.get(link(first, "next"))) == before[1]


def test_group_cursor_round_trips_and_a_bad_one_is_refused(named_groups):
    groups, endpoints = named_groups
    sort = listing.SORTS["group"]
    names = {g.pk: g.name for g in groups}
    grouped = next(e for e in endpoints if e.primary_group_id)
    token = listing.encode_cursor(sort, grouped, names)
    assert listing.decode_cursor(token, sort) == (
        (grouped.primary_group.name, grouped.primary_group_id),
        grouped.iccid,
    )
    ungrouped = next(e for e in endpoints if e.primary_group_id is None)
    token = listing.encode_cursor(sort, ungrouped, names)
    assert listing.decode_cursor(token, sort) == (None, ungrouped.iccid)
    # A cursor of the former by-id group sort: well signed, but not a (name, id).
    former = signing.dumps(
        {"s": "group", "v": [grouped.primary_group_id, grouped.iccid]},
        salt="inventory.endpoint-list.cursor",
    )
    with pytest.raises(listing.BadCursor):
        listing.decode_cursor(former, sort)


def test_groups_sharing_a_name_rank_by_id():
    groups = [Group(pk=7, name="fleet"), Group(pk=3, name="fleet"), Group(pk=5, name="Alpha")]
    assert [g.pk for g in listing.rank_groups(groups)] == [5, 3, 7]


def test_group_sort_queries_do_not_grow_with_groups_or_depth(op_client, account, named_groups):
    vslice = named_groups[0][0].vslice
    more = [GroupFactory(account=account, vslice=vslice) for _ in range(40)]
    Endpoint.objects.bulk_create(
        Endpoint(
            account=account,
            iccid=iccid_for(700_000 + n),
            primary_group=more[n % 40],
            state=State.ACTIVE,
        )
        for n in range(560)
    )
    counts = {}
    for per_page in (25, 250):
        first = op_client.get(URL, {"sort": "group", "per_page": per_page})
        with CaptureQueriesContext(connection) as ctx:
            response = op_client.get(link(first, "next"))
        assert len(iccids(response)) == per_page
        counts[per_page] = len(ctx.captured_queries)
    # session, user, membership, groups, page, bounded count
    assert counts == {25: 6, 250: 6}


@pytest.mark.parametrize("sort", ["group", "-group"])
def test_group_sort_export_has_the_pages_order(op_client, named_groups, sort):
    export = op_client.get(reverse("inventory:endpoint_export"), {"sort": sort})
    body = b"".join(export.streaming_content).decode()
    exported = [line.split(",")[0] for line in body.splitlines()[1:]]
    assert exported == _by_group_names(named_groups[1], sort)


@pytest.mark.parametrize("per_page, shown", [("25", 25), ("250", 60), ("7", 50), ("x", 50)])
def test_page_sizes(op_client, account, per_page, shown):
    EndpointFactory.create_batch(60, account=account, imsis=0)
    assert len(iccids(op_client.get(URL, {"per_page": per_page}))) == shown


def test_count_is_exact_below_the_bound_and_bounded_above(op_client, account, monkeypatch):
    # A tag filter is counted on the rows (state and group only are the kept
    # counts, exact at any size: tests/usage/test_list_counts.py).
    EndpointFactory.create_batch(7, account=account, imsis=0, tags=["t"])
    assert "7 endpoints" in page_text(op_client.get(URL, {"tag": "t"}))
    monkeypatch.setattr(listing, "COUNT_LIMIT", 5)
    text = page_text(op_client.get(URL, {"tag": "t", "per_page": 25}))
    assert "5+ endpoints" in text
    assert "Select all 5+ matching this filter" in text
    assert "7 endpoints" in page_text(op_client.get(URL))


# --- HTMX and cost -----------------------------------------------------------------------


def test_htmx_request_gets_only_the_results_fragment(op_client, account):
    endpoint = EndpointFactory(account=account)
    response = op_client.get(URL, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and 'id="filter-form"' not in html
    assert endpoint.iccid in html
    assert 'id="bulk-form"' in html
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_full_page(op_client, account):
    EndpointFactory(account=account)
    response = op_client.get(
        URL, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" in html and 'id="filter-form"' in html


def test_full_page_has_htmx_filter_form_and_push_url(op_client, account):
    EndpointFactory.create_batch(30, account=account, imsis=0)
    html = op_client.get(URL, {"per_page": 25}).content.decode()
    assert 'hx-get="/inventory/endpoints/"' in html
    assert 'hx-target="#endpoint-results"' in html
    assert html.count('hx-push-url="true"') >= 3


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"state": ["active", "idle"]},
        {"group": "GROUP"},
        {"tag": "fleet-eu"},
        {"q": "unit"},
        {"q": "8944"},
        {"sort": "-last_activity"},
        {"sort": "group"},
    ],
)
def test_query_count_is_the_same_for_25_and_250_rows(op_client, account, group, params):
    Endpoint.objects.bulk_create(
        Endpoint(
            account=account,
            primary_group=group,
            iccid=iccid_for(500_000 + n),
            name=f"unit-{n}",
            tags=["fleet-eu"],
            last_activity=NOW if n % 2 else None,
            state=State.ACTIVE if n % 3 else State.IDLE,
        )
        for n in range(260)
    )
    params = {k: (group.pk if v == "GROUP" else v) for k, v in params.items()}
    counts = []
    for per_page in (25, 250):
        with CaptureQueriesContext(connection) as ctx:
            response = op_client.get(URL, {**params, "per_page": per_page})
        assert len(iccids(response)) == per_page
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    # session, user, membership, groups, page, bounded count
    assert counts[0] <= 6


def test_list_page_queries_pinned(op_client, account, group, django_assert_max_num_queries):
    for _ in range(30):
        in_service(account, group, imsis=2)
    with django_assert_max_num_queries(6):
        response = op_client.get(URL, {"per_page": 25, "after": "", "sort": "-last_activity"})
    assert len(iccids(response)) == 25
