"""The screens at a laptop's 1366 px and a phone's 390 px: nothing runs off the
right edge, on a phone the header folds into a Menu button that opens the
navigation, the account switch and Sign out, and the groups table fits a 1366 px
window even with long names and six-digit counts."""

import datetime as dt
import re

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from inventory.models import Endpoint, EventStatus, EventType, NetworkEvent, State
from portal.models import Role
from tests.browser.support import (
    DESKTOP,
    PHONE,
    assert_accessible,
    assert_fits,
    assert_no_csp_violations,
    screenshot,
    viewport,
)
from tests.factories import EndpointFactory, GroupFactory, MemberFactory, VSliceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
#: The header's menu once open (while it slides, Bootstrap's class is "collapsing").
OPENED = re.compile(r"^(?!.*\bcollapsing\b).*\bshow\b")

# 120,000 endpoints of one group in one statement (factories would take minutes).
_FLEET_SQL = f"""
    INSERT INTO {Endpoint._meta.db_table}
        (account_id, iccid, name, reference, tags, state, primary_group_id,
         imei_lock_enabled, imei, last_activity, state_changed_at, terminated_at, created_at)
    SELECT %(account)s, '8949' || lpad(n::text, 15, '0'), '', '', '{{}}', s.state, %(group)s,
           false, '', NULL, now(), CASE WHEN s.state = 'terminated' THEN now() END, now()
      FROM generate_series(1, %(count)s) AS n
     CROSS JOIN LATERAL (SELECT CASE WHEN n %% 120 < 100 THEN 'active'
                                     WHEN n %% 120 < 110 THEN 'idle'
                                     WHEN n %% 120 < 116 THEN 'detached'
                                     WHEN n %% 120 < 118 THEN 'suspended'
                                     ELSE 'terminated' END AS state) AS s
"""


@pytest.fixture
def long_groups(account):
    """Two groups with long names, VSlices and APNs in a /8, one of them holding
    120,000 endpoints in five states."""
    vslice = VSliceFactory(
        account=account, name="vantiq-eu-west-production-telematics-slice", subnet="100.0.0.0/8"
    )
    big = GroupFactory(
        account=account,
        vslice=vslice,
        name="vantiq-connect-eu-west-production-fleet-telematics-2026",
        apn="telematics.eu-west.production.vantiq-connect.example",
    )
    small = GroupFactory(
        account=account,
        vslice=vslice,
        name="vantiq-connect-eu-west-production-fleet-telematics-lab",
        apn="lab.telematics.eu-west.production.vantiq-connect.example",
    )
    with connection.cursor() as cursor:
        cursor.execute(_FLEET_SQL, {"account": account.pk, "group": big.pk, "count": 120_000})
    EndpointFactory.create_batch(3, account=account, primary_group=small, state=State.IDLE)
    return big, small


def test_groups_table_fits_a_1366_window(page, console_log, sign_in, viewer, long_groups):
    big, _ = long_groups
    sign_in(viewer)
    page.goto("/inventory/groups/")
    table = page.get_by_test_id("group-table")
    row = table.locator(f"tr[data-group-id='{big.pk}']")
    expect(row.get_by_test_id("total")).to_have_text("120,000")
    expect(row).to_contain_text("100,000")
    expect(row).to_contain_text("of 16,777,214")
    screenshot(page, "groups-long-names")

    assert page.viewport_size == DESKTOP
    assert_fits(page)
    # The table's own scroller must not scroll either: every column is in view.
    wrapper = page.locator(".table-responsive").filter(has=table)
    assert wrapper.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    used = table.get_by_role("columnheader", name=re.compile("Addresses used"))
    box = used.bounding_box()
    assert box["x"] + box["width"] <= DESKTOP["width"]
    assert_accessible(page, "groups-long-names")
    assert_no_csp_violations(console_log)


@pytest.fixture
def one_of_each(account, group):
    """An endpoint with an event, for the detail and events pages."""
    car = EndpointFactory(
        account=account,
        state=State.ACTIVE,
        primary_group=group,
        name="Vantiq X3 WVW-2026-0001",
        reference="VIN-WVWZZZ3CZWE000001",
        tags=["fleet:a", "model:x3"],
        last_activity=timezone.now() - dt.timedelta(minutes=3),
    )
    NetworkEvent.objects.create(
        event_id="layout-1",
        account=account,
        endpoint=car,
        group=group,
        type=EventType.SESSION_START,
        imsi=car.imsis.first().imsi,
        apn=group.apn,
        at=timezone.now() - dt.timedelta(minutes=3),
        status=EventStatus.ACCEPTED,
        ip="100.64.0.9",
    )
    return car


def _menu(page):
    return page.get_by_role("button", name="Menu")


def open_menu(page) -> None:
    """Open the folded header and wait for Bootstrap's collapse to finish sliding."""
    _menu(page).click()
    expect(page.locator("#portal-menu")).to_have_class(OPENED)
    expect(_menu(page)).to_have_attribute("aria-expanded", "true")


def test_main_pages_fit_a_phone_and_fold_the_header(
    page, console_log, sign_in, operator, one_of_each
):
    sign_in(operator)
    pages = {
        "list": "/inventory/endpoints/",
        "detail": f"/inventory/endpoints/{one_of_each.iccid}/",
        "groups": "/inventory/groups/",
        "events": "/inventory/events/",
    }
    header = page.locator("header")
    for name, url in pages.items():
        page.goto(url)
        expect(page.locator("main")).to_contain_text(
            one_of_each.primary_group.name if name == "groups" else one_of_each.iccid
        )
        # 1366 px: the whole header in one line, no menu button.
        assert_fits(page)
        expect(_menu(page)).to_be_hidden()
        expect(header.get_by_role("link", name="Groups")).to_be_visible()
        expect(header.get_by_role("button", name="Sign out")).to_be_visible()
        with viewport(page, PHONE):
            # 390 px: folded behind Menu; nothing wider than the screen.
            assert_fits(page)
            expect(_menu(page)).to_be_visible()
            expect(header.get_by_role("link", name="Groups")).to_be_hidden()
            expect(header.get_by_role("button", name="Sign out")).to_be_hidden()
            screenshot(page, f"layout-{name}-phone")
        assert_accessible(page, f"layout-{name}")

    # Opened on a phone: the account and Sign out are readable (axe checks the
    # contrast of what is shown) and the page still fits.
    with viewport(page, PHONE):
        open_menu(page)
        expect(header.get_by_test_id("current-account")).to_have_text("Vantiq Connect")
        expect(header.get_by_role("button", name="Sign out")).to_be_visible()
        assert_fits(page)
        screenshot(page, "layout-menu-open-phone")
        assert_accessible(page, "layout-menu-open")
    assert_no_csp_violations(console_log)


def test_on_a_phone_the_menu_switches_account_and_signs_out(
    page, console_log, sign_in, operator, other_account, one_of_each
):
    MemberFactory(user=operator, account=other_account, role=Role.VIEWER)
    theirs = EndpointFactory(account=other_account, name="Truck NW-1")
    sign_in(operator, account=one_of_each.account)
    page.set_viewport_size(PHONE)
    page.goto("/inventory/endpoints/")
    expect(page.get_by_test_id("result-count")).to_have_text("1 endpoint")
    header = page.locator("header")
    account = header.get_by_label("Account", exact=True)
    expect(account).to_be_hidden()

    open_menu(page)
    expect(header.get_by_role("link", name="Network events")).to_be_visible()
    expect(account).to_be_visible()
    assert_fits(page)
    screenshot(page, "phone-menu-two-accounts")
    assert_accessible(page, "phone-menu-two-accounts")

    account.select_option(label="Northwind Logistics")
    page.wait_for_load_state()
    expect(page.get_by_test_id("result-count")).to_have_text("1 endpoint")
    expect(page.get_by_role("link", name=theirs.iccid)).to_be_visible()
    expect(page.get_by_role("link", name=one_of_each.iccid)).to_have_count(0)

    open_menu(page)
    expect(header.get_by_label("Account", exact=True)).to_have_value(str(other_account.pk))
    header.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_fits(page)
    assert not any(s.get_decoded().get("_auth_user_id") for s in Session.objects.all())
    response = page.goto("/inventory/endpoints/")
    assert "/login/" in response.url
    assert_no_csp_violations(console_log)
