"""The dashboard and the Usage tab in Chromium: a state count on the dashboard
leads to the list filtered by that state, showing the same exact count; the
Usage tab draws its chart within the CSP, with its table alternative; axe at
both widths on both screens."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from inventory.models import Endpoint, Group, State
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.factories import EndpointFactory
from usage.models import AccountDailyUsage, EndpointDailyUsage, EndpointMonthlyUsage
from usage.selectors import month_start, today

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fleet(account, other_account, group):
    active = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, imsis=0)
        for _ in range(7)
    ]
    for _ in range(3):
        EndpointFactory(account=account, state=State.IDLE, primary_group=group, imsis=0)
    EndpointFactory(account=account, imsis=0)
    EndpointFactory.create_batch(4, account=other_account, state=State.PENDING, imsis=0)
    heavy = active[0]
    for n in range(30):
        day = today() - dt.timedelta(days=n)
        used = (n % 7 + 1) * 3_000_000
        EndpointDailyUsage.objects.create(
            account=account, endpoint=heavy, day=day, bytes_up=used // 5, bytes_down=used
        )
        AccountDailyUsage.objects.create(
            account=account, day=day, bytes_up=used // 5, bytes_down=used
        )
    EndpointMonthlyUsage.objects.create(
        account=account, endpoint=heavy, month=month_start(), bytes_total=42_000_000
    )
    return {"heavy": heavy}


def test_dashboard_state_count_leads_to_the_same_exact_count_in_the_list(
    page, console_log, sign_in, viewer, fleet
):
    sign_in(viewer)
    page.goto("/inventory/")
    expect(page.get_by_role("heading", name="Inventory", exact=True)).to_be_visible()
    counts = page.get_by_test_id("state-counts")
    expect(counts.locator("a[data-state=active]")).to_have_text("7")
    expect(page.get_by_test_id("dashboard-total")).to_have_text("11 endpoints")
    expect(page.get_by_test_id("usage-chart").locator("svg rect").first).to_be_visible()
    expect(page.get_by_test_id("top-endpoints")).to_contain_text(fleet["heavy"].iccid)
    screenshot(page, "dashboard")
    assert_accessible(page, "dashboard")

    counts.locator("a[data-state=active]").click()
    page.wait_for_url(re.compile(r"/inventory/endpoints/\?state=active"))
    expect(page.get_by_test_id("result-count")).to_have_text("7 endpoints")
    account = viewer.memberships.get().account
    assert Endpoint.objects.filter(account=account, state=State.ACTIVE).count() == 7
    expect(page.get_by_role("checkbox", name="Active", exact=True)).to_be_checked()
    assert_no_csp_violations(console_log)


def test_usage_tab_chart_and_table(page, console_log, sign_in, viewer, fleet):
    sign_in(viewer)
    heavy = fleet["heavy"]
    page.goto(f"/inventory/endpoints/{heavy.iccid}/")
    page.get_by_role("link", name="Usage", exact=True).click()
    page.wait_for_url(re.compile(r"/usage/$"))
    expect(page.get_by_test_id("month-total")).to_contain_text("42.0 MB")
    chart = page.get_by_test_id("usage-chart").locator("svg")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() == 60  # sent and received, 30 days
    page.get_by_text("show the numbers as a table").click()
    expect(page.get_by_test_id("usage-table").locator("tbody tr")).to_have_count(30)
    screenshot(page, "endpoint-usage")
    assert_accessible(page, "endpoint-usage")
    page.get_by_role("link", name="90 days").click()
    page.wait_for_url(re.compile(r"days=90"))
    expect(page.get_by_test_id("period-total")).to_contain_text("Last 90 days")
    assert_no_csp_violations(console_log)


def test_admin_creates_edits_and_deletes_a_group(page, console_log, sign_in, admin_member, group):
    sign_in(admin_member)
    page.goto("/inventory/groups/")
    page.get_by_test_id("group-create").click()
    page.wait_for_url(re.compile(r"/inventory/groups/new/$"))
    assert_accessible(page, "group-form")
    page.get_by_label("Name").fill("fleet-trial")
    page.get_by_label("APN").fill("trial.apn")
    page.get_by_label("Monthly data allowance per endpoint (MB)").fill("250")
    page.get_by_label("Suspend an endpoint at 100 %").check()
    page.get_by_role("button", name="Create group").click()
    page.wait_for_url(re.compile(r"/inventory/groups/$"))
    created = Group.objects.get(name="fleet-trial")
    assert (created.apn, created.data_allowance_mb, created.suspend_at_limit) == (
        "trial.apn",
        250,
        True,
    )
    row = page.locator(f"tr[data-group-id='{created.pk}']")
    expect(row.get_by_test_id("allowance")).to_have_text(
        "250 MB/month, warn at 80 %, suspend at 100 %"
    )
    row.get_by_role("link", name="Edit fleet-trial").click()
    page.get_by_label("APN").fill("other.apn")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(re.compile(r"/inventory/groups/$"))
    created.refresh_from_db()
    assert created.apn == "other.apn"
    page.locator(f"tr[data-group-id='{created.pk}']").get_by_role(
        "link", name="Delete fleet-trial"
    ).click()
    assert_accessible(page, "group-delete")
    page.get_by_role("button", name="Delete group").click()
    page.wait_for_url(re.compile(r"/inventory/groups/$"))
    assert not Group.objects.filter(pk=created.pk).exists()
    assert_no_csp_violations(console_log)
