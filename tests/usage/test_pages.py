"""The dashboard (/inventory/) and the Usage tab: who may see them, what they
show (exact counts linking to the list, usage chart and its table, top and
stale endpoints, recent jobs), another account's endpoint a 404, and a
constant number of queries."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import State
from jobs.models import Action, Job
from tests.factories import EndpointFactory, GroupFactory
from usage.models import AccountDailyUsage, EndpointDailyUsage, EndpointMonthlyUsage
from usage.selectors import month_start, today

DASHBOARD = reverse("inventory:dashboard")


def text(response) -> str:
    return re.sub(r"\s+", " ", unescape(response.content.decode()))


def usage_url(endpoint) -> str:
    return reverse("inventory:endpoint_usage", args=[endpoint.iccid])


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["dashboard", "usage"])
def test_anonymous_is_sent_to_sign_in(client, account, url):
    endpoint = EndpointFactory(account=account)
    response = client.get(DASHBOARD if url == "dashboard" else usage_url(endpoint))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_dashboard_shows_exact_counts_linking_to_the_list(viewer_client, account, other_account):
    group = GroupFactory(account=account, name="fleet-eu")
    for state in [State.ACTIVE] * 3 + [State.IDLE]:
        EndpointFactory(account=account, state=state, primary_group=group)
    EndpointFactory(account=account)
    EndpointFactory.create_batch(4, account=other_account)
    response = viewer_client.get(DASHBOARD)
    html = response.content.decode()
    assert response.status_code == 200
    assert "5 endpoints" in text(response)
    assert re.search(
        r'href="/inventory/endpoints/\?state=active" data-state="active"[^>]*>3<', html
    )
    assert re.search(
        r'href="/inventory/endpoints/\?state=pending" data-state="pending"[^>]*>1<', html
    )
    assert re.search(rf'href="/inventory/endpoints/\?group={group.pk}"[^>]*>4<', html)
    # the list behind the link says the same number
    listed = text(viewer_client.get(reverse("inventory:endpoint_list") + "?state=active"))
    assert "3 endpoints" in listed


@pytest.mark.django_db
def test_dashboard_usage_top_stale_and_jobs(viewer_client, account, other_account):
    group = GroupFactory(account=account)
    heavy = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, name="heavy")
    silent = EndpointFactory(
        account=account,
        state=State.IDLE,
        primary_group=group,
        last_activity=timezone.now() - dt.timedelta(days=12),
    )
    theirs = EndpointFactory(account=other_account, name="northwind-heavy")
    AccountDailyUsage.objects.create(
        account=account, day=today(), bytes_up=10**6, bytes_down=4 * 10**6
    )
    AccountDailyUsage.objects.create(account=other_account, day=today(), bytes_up=10**12)
    EndpointMonthlyUsage.objects.create(
        account=account, endpoint=heavy, month=month_start(), bytes_total=5 * 10**6
    )
    EndpointMonthlyUsage.objects.create(
        account=other_account, endpoint=theirs, month=month_start(), bytes_total=10**12
    )
    Job.objects.create(account=account, action=Action.SUSPEND, total=3, position=3, changed=2)
    page = text(viewer_client.get(DASHBOARD))
    assert "This month: <strong>5.0 MB</strong>" in page
    assert "<svg" in page and 'role="img"' in page
    assert "Data used per day, last 30 days: 5.0 MB in 30 days" in page
    assert heavy.iccid in page and "northwind" not in page and "1.0 TB" not in page
    assert silent.iccid in page  # stale
    assert "2 of 3" in page  # the job


@pytest.mark.django_db
def test_dashboard_costs_a_constant_number_of_queries(
    viewer_client, account, django_assert_max_num_queries
):
    for _ in range(3):
        group = GroupFactory(account=account)
        EndpointFactory.create_batch(3, account=account, state=State.ACTIVE, primary_group=group)
    with django_assert_max_num_queries(12):
        viewer_client.get(DASHBOARD)


@pytest.mark.django_db
def test_usage_tab_chart_table_and_totals(viewer_client, account):
    endpoint = EndpointFactory(account=account)
    old = today() - dt.timedelta(days=60)
    EndpointDailyUsage.objects.create(
        account=account, endpoint=endpoint, day=today(), bytes_up=2_000, bytes_down=3_000_000
    )
    EndpointDailyUsage.objects.create(
        account=account, endpoint=endpoint, day=old, bytes_up=0, bytes_down=7_000_000
    )
    EndpointMonthlyUsage.objects.create(
        account=account, endpoint=endpoint, month=month_start(), bytes_total=3_002_000
    )
    page = text(viewer_client.get(usage_url(endpoint)))
    assert "This month: <strong>3.0 MB</strong>" in page
    assert "Last 30 days: 3.0 MB" in page
    assert page.count('<tr><th scope="row"') == 30
    assert "<svg" in page and "<rect" in page
    page90 = text(viewer_client.get(usage_url(endpoint), {"days": "90"}))
    assert "Last 90 days: 10.0 MB" in page90
    assert old.isoformat() in page90
    # anything else is the 30 days
    assert "Last 30 days" in text(viewer_client.get(usage_url(endpoint), {"days": "9\x00"}))


@pytest.mark.django_db
def test_usage_tab_of_another_accounts_endpoint_is_a_404(viewer_client, other_account):
    theirs = EndpointFactory(account=other_account)
    assert viewer_client.get(usage_url(theirs)).status_code == 404


@pytest.mark.django_db
def test_usage_tab_costs_a_constant_number_of_queries(
    viewer_client, account, django_assert_max_num_queries
):
    endpoint = EndpointFactory(account=account)
    EndpointDailyUsage.objects.bulk_create(
        EndpointDailyUsage(
            account=account, endpoint=endpoint, day=today() - dt.timedelta(days=n), bytes_up=n
        )
        for n in range(90)
    )
    with django_assert_max_num_queries(9):
        viewer_client.get(usage_url(endpoint), {"days": "90"})
