"""One endpoint in Chromium: open it from the list, switch tabs, edit its tags
and static IP (a wrong IP is refused next to the field), and the single-endpoint
suspend confirmation."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.models import History, IPAllocation, State
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.factories import EndpointFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def car(account, group):
    endpoint = EndpointFactory(
        account=account,
        state=State.ACTIVE,
        primary_group=group,
        name="car 7",
        reference="VIN-WVW123",
        tags=["fleet-a"],
        last_activity=timezone.now() - dt.timedelta(minutes=5),
        imsis=2,
    )
    IPAllocation.objects.create(
        account=account,
        endpoint=endpoint,
        group=group,
        vslice=group.vslice,
        address="100.64.0.7",
        kind="auto",
    )
    return endpoint


def test_open_switch_tabs_and_edit_tags_and_static_ip(page, console_log, sign_in, operator, car):
    sign_in(operator)
    page.goto("/inventory/endpoints/")
    page.get_by_role("link", name=car.iccid).click()

    page.wait_for_url(re.compile(rf"/inventory/endpoints/{car.iccid}/$"))
    expect(page.get_by_test_id("endpoint-iccid")).to_have_text(car.iccid)
    expect(page.locator("main")).to_contain_text("car 7")
    expect(page.locator("main")).to_contain_text("VIN-WVW123")
    for imsi in car.imsis.values_list("imsi", flat=True):
        expect(page.locator("main")).to_contain_text(imsi)
    screenshot(page, "endpoint-detail-overview")
    assert_accessible(page, "endpoint-detail-overview")

    page.get_by_role("link", name="IP Addresses").click()
    page.wait_for_url(re.compile(r"/ip-addresses/$"))
    expect(page.get_by_role("link", name="IP Addresses")).to_have_attribute("aria-current", "page")
    ip_table = page.get_by_test_id("ip-table")
    expect(ip_table).to_contain_text("100.64.0.7")
    expect(ip_table).to_contain_text("Automatic")
    screenshot(page, "endpoint-detail-ips")
    assert_accessible(page, "endpoint-detail-ips")

    page.get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(r"/history/$"))
    expect(page.get_by_role("link", name="History")).to_have_attribute("aria-current", "page")
    screenshot(page, "endpoint-detail-history")

    # Edit through the Actions menu.
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(re.compile(r"/edit/$"))
    screenshot(page, "endpoint-edit")
    assert_accessible(page, "endpoint-edit")

    tags = page.get_by_label("Tags", exact=True)
    static_ip = page.get_by_label(re.compile(r"^Static IP in"))
    tags.fill("fleet-a, eu-west")
    static_ip.fill("10.0.0.5")  # outside the group's 100.64.0.0/16
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_test_id("form-errors")).to_contain_text("Nothing was saved")
    expect(static_ip).to_have_attribute("aria-invalid", "true")
    error_id = static_ip.get_attribute("aria-describedby").split()[0]
    expect(page.locator(f"#{error_id}")).to_be_visible()
    expect(page.locator(f"#{error_id}")).to_contain_text("100.64.0.0/16")
    expect(page.get_by_label("Tags", exact=True)).to_have_value("fleet-a, eu-west")
    screenshot(page, "endpoint-edit-error")
    assert_accessible(page, "endpoint-edit-error")
    car.refresh_from_db()
    assert car.tags == ["fleet-a"]
    assert list(IPAllocation.objects.filter(endpoint=car).values_list("address", "kind")) == [
        ("100.64.0.7", "auto")
    ]
    assert not History.objects.filter(endpoint=car).exists()

    page.get_by_label(re.compile(r"^Static IP in")).fill("100.64.0.42")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/inventory/endpoints/{car.iccid}/$"))
    expect(page.get_by_role("status").first).to_contain_text(f"Endpoint {car.iccid} saved.")
    car.refresh_from_db()
    assert sorted(car.tags) == ["eu-west", "fleet-a"]
    assert list(IPAllocation.objects.filter(endpoint=car).values_list("address", "kind")) == [
        ("100.64.0.42", "static")
    ]
    assert History.objects.filter(endpoint=car, actor=operator).exists()

    page.get_by_role("link", name="IP Addresses").click()
    expect(page.get_by_test_id("ip-table")).to_contain_text("100.64.0.42")
    expect(page.get_by_test_id("ip-table")).to_contain_text("Static")
    assert_no_csp_violations(console_log)


def test_suspend_one_endpoint_through_its_confirmation(page, console_log, sign_in, operator, car):
    sign_in(operator)
    page.goto(f"/inventory/endpoints/{car.iccid}/")
    page.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("link", name="Terminate")).to_have_count(0)  # admins only
    page.get_by_role("link", name="Suspend").click()

    page.wait_for_url(re.compile(r"/suspend/$"))
    expect(page.get_by_test_id("preview-summary")).to_contain_text("1 endpoint will be suspended")
    screenshot(page, "endpoint-suspend-confirmation")
    assert_accessible(page, "endpoint-suspend-confirmation")
    car.refresh_from_db()
    assert car.state == State.ACTIVE

    page.get_by_role("button", name=re.compile(r"^Suspend")).click()
    page.wait_for_url(re.compile(rf"/inventory/endpoints/{car.iccid}/$"))
    car.refresh_from_db()
    assert car.state == State.SUSPENDED
    expect(page.locator("h1 .state-badge, .state-badge").first).to_have_text("Suspended")
    assert History.objects.filter(endpoint=car, action="suspend", actor=operator).count() == 1
    assert_no_csp_violations(console_log)
