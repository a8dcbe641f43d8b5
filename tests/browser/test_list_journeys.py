"""Inventory → Endpoints in Chromium: filters with the URL kept by HTMX and the
back button, search by ICCID suffix, sort, pages, bulk suspend through the
confirmation page, "select all matching" + assign, and the typed-count
confirmation of a terminate of 11."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.models import Endpoint, History, State
from portal.models import Role
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.factories import EndpointFactory, GroupFactory, MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIST = "/inventory/endpoints/"


def shown_iccids(page) -> list[str]:
    return page.locator("[data-testid=endpoint-table] tbody td.mono a").all_inner_texts()


def filter_form(page):
    return page.locator("#filter-form")


def state_box(page, label: str):
    return page.get_by_role("group", name="State").get_by_role("checkbox", name=label, exact=True)


@pytest.fixture
def fleet(account, other_account, group):
    """31 active in the EU group (7 tagged fleet-a), 3 active and 2 suspended in
    the US group (one of them tagged eu-west), 4 pending; 3 of another account."""
    us = GroupFactory(account=account, name="vantiq-connect-us", vslice=group.vslice)
    now = timezone.now()
    active_eu = [
        EndpointFactory(
            account=account,
            state=State.ACTIVE,
            primary_group=group,
            name=f"car {n:02d}",
            tags=["fleet-a"] if n < 7 else [],
            last_activity=now - dt.timedelta(minutes=n),
            imsis=0,
        )
        for n in range(31)
    ]
    target = EndpointFactory(
        account=account,
        state=State.ACTIVE,
        primary_group=us,
        name="truck west",
        tags=["eu-west"],
        last_activity=now - dt.timedelta(hours=3),
        imsis=0,
    )
    active_us = [target] + [
        EndpointFactory(
            account=account, state=State.ACTIVE, primary_group=us, name=f"truck {n}", imsis=0
        )
        for n in range(2)
    ]
    suspended = [
        EndpointFactory(account=account, state=State.SUSPENDED, primary_group=us, imsis=0)
        for _ in range(2)
    ]
    pending = [EndpointFactory(account=account, imsis=0) for _ in range(4)]
    foreign = [EndpointFactory(account=other_account, name="theirs", imsis=0) for _ in range(3)]
    return {
        "eu": group,
        "us": us,
        "active_eu": active_eu,
        "active_us": active_us,
        "target": target,
        "suspended": suspended,
        "pending": pending,
        "foreign": foreign,
    }


def test_filter_search_sort_and_page_with_the_url_and_back_button(
    page, console_log, sign_in, operator, fleet
):
    sign_in(operator)
    page.goto(LIST)
    expect(page.get_by_test_id("result-count")).to_have_text("40 endpoints")
    assert set(shown_iccids(page)) == set(
        Endpoint.objects.filter(account__slug="vantiq").values_list("iccid", flat=True)
    )
    for endpoint in fleet["foreign"]:
        assert endpoint.iccid not in shown_iccids(page)
    screenshot(page, "endpoint-list")
    assert_accessible(page, "endpoint-list")

    # State: the table is swapped by HTMX and the address follows.
    state_box(page, "Active").check()
    page.wait_for_url(re.compile(r"[?&]state=active"))
    expect(page.get_by_test_id("result-count")).to_have_text("34 endpoints")
    expect(page.locator("[data-testid=endpoint-table] tbody .state-badge")).to_have_text(
        ["Active"] * 34
    )

    # Group.
    filter_form(page).get_by_label("Group", exact=True).select_option(label="vantiq-connect-us")
    page.wait_for_url(re.compile(rf"group={fleet['us'].pk}"))
    expect(page.get_by_test_id("result-count")).to_have_text("3 endpoints")
    assert set(shown_iccids(page)) == {e.iccid for e in fleet["active_us"]}

    # Tag.
    tag = filter_form(page).get_by_label("Tag", exact=True)
    tag.fill("eu-west")
    tag.press("Tab")  # leaving the field is a change: HTMX filters
    page.wait_for_url(re.compile(r"tag=eu-west"))
    expect(page.get_by_test_id("result-count")).to_have_text("1 endpoint")
    assert shown_iccids(page) == [fleet["target"].iccid]
    screenshot(page, "endpoint-list-filtered")

    # Back: the tag goes, then the group; the table follows the address.
    us_group = f"group={fleet['us'].pk}"
    page.go_back()
    page.wait_for_url(lambda url: "tag=eu-west" not in url and us_group in url)
    expect(page.get_by_test_id("result-count")).to_have_text("3 endpoints")
    expect(filter_form(page).get_by_label("Tag", exact=True)).to_have_value("")
    page.go_back()
    page.wait_for_url(lambda url: us_group not in url and "state=active" in url)
    expect(page.get_by_test_id("result-count")).to_have_text("34 endpoints")
    page.go_forward()
    page.wait_for_url(re.compile(rf"group={fleet['us'].pk}"))
    expect(page.get_by_test_id("result-count")).to_have_text("3 endpoints")
    page.go_back()
    expect(page.get_by_test_id("result-count")).to_have_text("34 endpoints")

    # Search the last six digits printed on a SIM's label, typed key by key.
    suffix = fleet["target"].iccid[-6:]
    filter_form(page).get_by_label("Search", exact=True).press_sequentially(suffix, delay=30)
    page.wait_for_url(re.compile(rf"q={suffix}"))
    expect(page.get_by_test_id("result-count")).to_have_text("1 endpoint")
    assert shown_iccids(page) == [fleet["target"].iccid]
    filter_form(page).get_by_label("Search", exact=True).fill("")
    filter_form(page).get_by_label("Search", exact=True).press("Enter")
    page.wait_for_url(lambda url: "q=" + suffix not in url)
    expect(page.get_by_test_id("result-count")).to_have_text("34 endpoints")

    # Sort: ICCID ascending is the default; its header flips it, Name sorts by name.
    active = Endpoint.objects.filter(account__slug="vantiq", state=State.ACTIVE)
    by_iccid = list(active.order_by("iccid").values_list("iccid", flat=True))
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("ICCID")
    assert shown_iccids(page) == by_iccid
    page.get_by_role("link", name="ICCID").click()
    page.wait_for_url(re.compile(r"sort=-iccid"))
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("ICCID")
    assert shown_iccids(page) == by_iccid[::-1]
    page.get_by_role("link", name="Name").click()
    page.wait_for_url(re.compile(r"sort=name"))
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Name")
    assert shown_iccids(page) == list(
        active.order_by("name", "iccid").values_list("iccid", flat=True)
    )
    page.get_by_role("link", name="ICCID").click()
    page.wait_for_url(re.compile(r"sort=iccid"))
    assert shown_iccids(page) == by_iccid

    # Pages of 25: two pages hold every active endpoint exactly once.
    filter_form(page).get_by_label("Per page", exact=True).select_option("25")
    page.wait_for_url(re.compile(r"per_page=25"))
    expect(page.locator("[data-testid=endpoint-table] tbody tr")).to_have_count(25)
    first_page = shown_iccids(page)
    page.get_by_role("link", name="Next").click()
    page.wait_for_url(re.compile(r"after="))
    expect(page.locator("[data-testid=endpoint-table] tbody tr")).to_have_count(9)
    second_page = shown_iccids(page)
    assert first_page + second_page == by_iccid
    page.get_by_role("link", name="Previous").click()
    expect(page.locator("[data-testid=endpoint-table] tbody tr")).to_have_count(25)
    assert shown_iccids(page) == first_page
    # A pushed address is a real link: loading it afresh gives the same page.
    page.reload()
    assert shown_iccids(page) == first_page
    assert_no_csp_violations(console_log)


def test_bulk_suspend_and_select_all_matching_assign(page, console_log, sign_in, operator, fleet):
    sign_in(operator)
    page.goto(f"{LIST}?sort=iccid")

    # Tick three rows (one already suspended) and suspend them.
    chosen = [fleet["active_eu"][0], fleet["active_eu"][1], fleet["suspended"][0]]
    for endpoint in chosen:
        page.get_by_label(f"Select {endpoint.iccid}").check()
    expect(page.locator("[data-selected-count]")).to_have_text("3 selected")
    page.get_by_role("button", name="Suspend", exact=True).click()

    expect(page.get_by_role("heading", name="Suspend")).to_be_visible()
    expect(page.get_by_test_id("preview-summary")).to_contain_text("2 endpoints will be suspended")
    expect(page.get_by_test_id("preview-skipped")).to_contain_text("1 already suspended")
    screenshot(page, "bulk-suspend-confirmation")
    assert_accessible(page, "bulk-suspend-confirmation")
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == 2  # nothing yet

    page.get_by_label("Reason").fill("stolen vehicles")
    page.get_by_role("button", name="Suspend 2").click()
    page.wait_for_url(re.compile(r"/inventory/endpoints/"))
    expect(page.get_by_role("status").first).to_contain_text("2 suspended")
    for endpoint in chosen[:2]:
        endpoint.refresh_from_db()
        assert endpoint.state == State.SUSPENDED
    history = History.objects.filter(action="suspend", endpoint__in=chosen)
    assert sorted(h.endpoint_id for h in history) == sorted(e.pk for e in chosen[:2])
    assert {(h.actor_id, h.reason) for h in history} == {(operator.pk, "stolen vehicles")}
    assert len({h.batch for h in history}) == 1

    # Select all 4+ pending endpoints matching a filter, beyond the page, and
    # assign them to the US group.
    extra = [EndpointFactory(account=fleet["eu"].account, imsis=0) for _ in range(24)]
    pending = fleet["pending"] + extra
    page.goto(f"{LIST}?state=pending&per_page=25")
    expect(page.get_by_test_id("result-count")).to_have_text("28 endpoints")
    page.get_by_label("Select all 28 matching this filter").check()
    expect(page.locator("[data-selected-count]")).to_have_text("All matching endpoints selected")
    page.locator("#bulk-form").get_by_label("Group", exact=True).select_option(
        label="vantiq-connect-us"
    )
    page.get_by_role("button", name="Assign to group").click()

    expect(page.get_by_test_id("preview-summary")).to_contain_text(
        "28 endpoints will be assigned to vantiq-connect-us"
    )
    screenshot(page, "bulk-assign-confirmation")
    page.get_by_role("button", name="Assign 28 to vantiq-connect-us").click()
    page.wait_for_url(re.compile(r"/inventory/endpoints/"))
    expect(page.get_by_role("status").first).to_contain_text("28 assigned")
    assert not Endpoint.objects.filter(account=fleet["eu"].account, state=State.PENDING).exists()
    assert set(
        Endpoint.objects.filter(pk__in=[e.pk for e in pending]).values_list(
            "state", "primary_group_id"
        )
    ) == {(State.ACTIVE, fleet["us"].pk)}
    assert History.objects.filter(action="assign").count() == 28
    assert_no_csp_violations(console_log)


def test_terminate_eleven_asks_for_the_typed_count(page, console_log, sign_in, admin_member, fleet):
    sign_in(admin_member)
    page.goto(f"{LIST}?state=active&sort=iccid&per_page=25")
    doomed = sorted(fleet["active_eu"], key=lambda e: e.iccid)[:11]
    for endpoint in doomed:
        page.get_by_label(f"Select {endpoint.iccid}").check()
    expect(page.locator("[data-selected-count]")).to_have_text("11 selected")
    page.get_by_role("button", name="Terminate", exact=True).click()

    expect(page.get_by_test_id("preview-summary")).to_contain_text(
        "11 endpoints will be terminated"
    )
    expect(page.get_by_test_id("terminate-warning")).to_contain_text("cannot be undone")
    screenshot(page, "bulk-terminate-confirmation")
    assert_accessible(page, "bulk-terminate-confirmation")
    typed = page.get_by_label(re.compile(r"Type 11"))
    confirm = page.get_by_role("button", name="Terminate 11")

    # A wrong number: the button stays disabled, and the server refuses it too.
    typed.fill("12")
    expect(confirm).to_be_disabled()
    confirm.evaluate("button => { button.disabled = false; }")
    confirm.click()
    expect(page.get_by_test_id("typed-count-error")).to_be_visible()
    assert not Endpoint.objects.filter(state=State.TERMINATED).exists()
    assert not History.objects.filter(action="terminate").exists()

    # The right number terminates exactly the 11.
    page.get_by_label(re.compile(r"Type 11")).fill("11")
    expect(page.get_by_role("button", name="Terminate 11")).to_be_enabled()
    page.get_by_role("button", name="Terminate 11").click()
    page.wait_for_url(re.compile(r"/inventory/endpoints/"))
    expect(page.get_by_role("status").first).to_contain_text("11 terminated")
    terminated = Endpoint.objects.filter(state=State.TERMINATED)
    assert set(terminated.values_list("iccid", flat=True)) == {e.iccid for e in doomed}
    assert all(e.terminated_at for e in terminated)
    assert History.objects.filter(action="terminate").count() == 11
    assert_no_csp_violations(console_log)


def test_a_viewer_sees_no_action_buttons(page, console_log, sign_in, viewer, fleet):
    sign_in(viewer)
    page.goto(LIST)
    expect(page.get_by_test_id("result-count")).to_have_text("40 endpoints")
    expect(page.locator("input.row-select")).to_have_count(0)
    for name in ("Assign to group", "Suspend", "Terminate"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    screenshot(page, "endpoint-list-viewer")

    page.get_by_role("link", name=fleet["target"].iccid).click()
    expect(page.get_by_test_id("endpoint-iccid")).to_have_text(fleet["target"].iccid)
    expect(page.get_by_test_id("endpoint-actions")).to_have_count(0)
    expect(page.get_by_role("button", name="Actions")).to_have_count(0)
    assert_no_csp_violations(console_log)


def test_switching_account_shows_only_that_accounts_endpoints(
    page, console_log, sign_in, operator, other_account, fleet
):
    MemberFactory(user=operator, account=other_account, role=Role.VIEWER)
    sign_in(operator, account=fleet["eu"].account)
    page.goto(LIST)
    expect(page.get_by_test_id("result-count")).to_have_text("40 endpoints")

    page.get_by_label("Account", exact=True).select_option(label="Northwind Logistics")
    page.wait_for_load_state()
    expect(page.get_by_test_id("result-count")).to_have_text("3 endpoints")
    assert set(shown_iccids(page)) == {e.iccid for e in fleet["foreign"]}
    expect(page.locator("input.row-select")).to_have_count(0)  # a viewer there
    expect(page.get_by_label("Account", exact=True)).to_have_value(str(other_account.pk))
    screenshot(page, "endpoint-list-other-account")

    # The other account's endpoint is a 404 from the first account, and back.
    page.get_by_label("Account", exact=True).select_option(label="Vantiq Connect")
    expect(page.get_by_test_id("result-count")).to_have_text("40 endpoints")
    response = page.goto(f"{LIST}{fleet['foreign'][0].iccid}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert_no_csp_violations(console_log)
