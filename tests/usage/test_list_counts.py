"""The endpoint list with the kept counts: exact beyond the bounded count when
filtered by state and group only, bounded otherwise; "inactive for N days";
this month's usage column."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory import pagination as listing
from inventory.models import Endpoint, State
from tests.factories import EndpointFactory, GroupFactory, iccid_for
from tests.inventory.test_endpoint_list import iccids, page_text
from usage.models import EndpointMonthlyUsage
from usage.selectors import month_start

URL = reverse("inventory:endpoint_list")
MANY = listing.COUNT_LIMIT + 5


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def crowd(account):
    """COUNT_LIMIT + 5 Active endpoints in one group, 3 Pending without one."""
    group = GroupFactory(account=account)
    Endpoint.objects.bulk_create(
        Endpoint(
            account=account,
            iccid=iccid_for(50_000 + n),
            state=State.ACTIVE,
            primary_group=group,
            tags=["many"] if n < 2 else [],
        )
        for n in range(MANY)
    )
    for _ in range(3):
        EndpointFactory(account=account)
    return group


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", MANY + 3),
        ("?state=active", MANY),
        ("?state=active&state=pending", MANY + 3),
        ("?group={group}", MANY),
        ("?group={group}&state=pending", 0),
        ("?state=pending", 3),
    ],
)
def test_state_and_group_filters_show_the_exact_count(op_client, crowd, query, expected):
    response = op_client.get(URL + query.format(group=crowd.pk))
    text = page_text(response)
    assert f"{expected:,} endpoint" in text
    assert f"{expected:,}+" not in text
    if expected > 250:
        assert f"Select all {expected:,} matching this filter" in text


@pytest.mark.django_db
def test_other_filters_keep_the_bounded_count(op_client, crowd):
    text = page_text(op_client.get(URL + "?state=active&inactive=1"))
    assert f"{listing.COUNT_LIMIT:,}+ endpoints" in text
    text = page_text(op_client.get(URL + "?tag=many"))
    assert "2 endpoints" in text


@pytest.mark.django_db
def test_exact_count_costs_one_query_however_many_endpoints(
    op_client, crowd, django_assert_max_num_queries
):
    op_client.get(URL)
    with django_assert_max_num_queries(12) as captured:
        op_client.get(URL + "?state=active")
    counts = [q["sql"] for q in captured.captured_queries if "count(" in q["sql"].lower()]
    assert counts == [] or all("usage_statecount" in sql for sql in counts)


@pytest.mark.django_db
def test_inactive_for_n_days(op_client, account, group):
    now = timezone.now()
    recent = EndpointFactory(account=account, last_activity=now - dt.timedelta(days=2))
    old = EndpointFactory(account=account, last_activity=now - dt.timedelta(days=10))
    never = EndpointFactory(account=account, last_activity=None)
    shown = iccids(op_client.get(URL + "?inactive=7"))
    assert set(shown) == {old.iccid, never.iccid}
    assert recent.iccid in iccids(op_client.get(URL + "?inactive=1"))


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["0", "-3", "abc", "3651", "1.5", "١٢"])
def test_bad_inactive_values_are_a_clear_message(op_client, account, value):
    response = op_client.get(URL, {"inactive": value})
    assert response.status_code == 200
    assert "Inactive for" in page_text(response)
    assert 'data-testid="filter-errors"' in response.content.decode()


@pytest.mark.django_db
def test_this_months_usage_column(op_client, account):
    endpoint = EndpointFactory(account=account)
    quiet = EndpointFactory(account=account)
    EndpointMonthlyUsage.objects.create(
        account=account, endpoint=endpoint, month=month_start(), bytes_total=2_500_000
    )
    text = page_text(op_client.get(URL + "?columns=usage"))
    assert "This month" in text
    assert "2.5 MB" in text
    assert quiet.iccid in text
    assert "This month</th>" not in page_text(op_client.get(URL))
