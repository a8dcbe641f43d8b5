"""Connectivity in Chromium (docs/connectivity.md): the card of an online, an
offline, a refused and a suspended endpoint, a reset through its
confirmation, and the Activity page; axe at 1366 and 390 px on each."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from inventory import lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, SessionTeardown, State
from network.tokens import create_token
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.factories import EndpointFactory, imei_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


def post_events(*events):
    token = create_token(f"core-{datetime.now().timestamp()}")[1]
    response = Client().post(
        reverse("api:network_events"),
        data=json.dumps({"events": list(events)}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    return response.json()["results"]


def ev(kind, endpoint, seconds, **extra):
    return {
        "id": f"b-{endpoint.pk}-{kind}-{seconds}",
        "type": kind,
        "imsi": endpoint.imsis.first().imsi,
        "at": (T0 + timedelta(seconds=seconds)).isoformat(),
        **extra,
    }


@pytest.fixture
def fleet(account, group):
    online = EndpointFactory(account=account, state=State.IDLE, primary_group=group, name="online")
    offline = EndpointFactory(account=account, state=State.IDLE, primary_group=group, name="gone")
    refused = EndpointFactory(
        account=account,
        state=State.IDLE,
        primary_group=group,
        name="locked",
        imei_lock_enabled=True,
        imei=imei_for(1),
    )
    suspended = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    post_events(
        ev("attach", online, 0, plmn="23415", rat="4G"),
        ev("session_start", online, 1, plmn="23415", rat="4G", imei=imei_for(3)),
        ev("session_update", online, 30, bytes_up=2_000, bytes_down=1_500_000),
        ev("session_start", offline, 0, plmn="26201", rat="LTE-M"),
        ev("session_end", offline, 20, bytes_up=10, bytes_down=20),
        ev("detach", offline, 25, plmn="26201"),
        ev("session_start", refused, 0, plmn="20801", imei=imei_for(2)),
    )
    lifecycle.suspend(
        endpoints=Endpoint.objects.filter(pk=suspended.pk), actor=Actor.SYSTEM, reason="unpaid"
    )
    return {"online": online, "offline": offline, "refused": refused, "suspended": suspended}


@pytest.mark.parametrize(
    ("which", "status", "words"),
    [
        ("online", "Online", "Online since"),
        ("offline", "Offline", "Not seen since"),
        ("refused", "Attached", "because the IMEI lock refused the device"),
        ("suspended", "Offline", "Suspended on"),
    ],
)
def test_the_connectivity_card(page, console_log, sign_in, viewer, fleet, which, status, words):
    endpoint = fleet[which]
    sign_in(viewer)
    page.goto(f"/inventory/endpoints/{endpoint.iccid}/")
    card = page.get_by_test_id("connectivity-card")
    expect(card).to_be_visible()
    expect(page.get_by_test_id("connectivity-status")).to_have_text(status)
    expect(page.get_by_test_id("connectivity-sentence")).to_contain_text(words)
    if which == "online":
        expect(page.get_by_test_id("connectivity-network")).to_contain_text(
            "Vodafone UK, United Kingdom"
        )
        expect(page.get_by_test_id("connectivity-session")).to_contain_text("1.5 MB down")
    if which == "refused":
        expect(page.get_by_test_id("connectivity-sentence")).to_contain_text(imei_for(2))
    if which == "suspended":
        page.get_by_test_id("connectivity-evidence").click()
        page.wait_for_url(re.compile(r"/history/#history-\d+$"))
        expect(page.locator(":target")).to_contain_text("unpaid")
        page.go_back()
    screenshot(page, f"connectivity-card-{which}")
    assert_accessible(page, f"connectivity-card-{which}")
    assert_no_csp_violations(console_log)


def test_reset_through_its_confirmation(page, console_log, sign_in, operator, fleet):
    online = fleet["online"]
    sign_in(operator)
    page.goto(f"/inventory/endpoints/{online.iccid}/")
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("link", name="Reset connectivity").click()
    page.wait_for_url(re.compile(r"/reset/$"))
    expect(page.get_by_test_id("reset-explained")).to_be_visible()
    screenshot(page, "connectivity-reset-confirmation")
    assert_accessible(page, "connectivity-reset-confirmation")
    assert not SessionTeardown.objects.exists()

    page.get_by_role("button", name=re.compile(r"^Reset 1")).click()
    page.wait_for_url(re.compile(rf"/inventory/endpoints/{online.iccid}/$"))
    expect(page.locator("main")).to_contain_text("1 reset")
    assert SessionTeardown.objects.filter(endpoint=online, reason="reset").count() == 1
    assert_no_csp_violations(console_log)


def test_the_activity_page(page, console_log, sign_in, viewer, fleet):
    sign_in(viewer)
    page.goto("/inventory/activity/")
    table = page.get_by_test_id("activity-table")
    expect(table).to_contain_text("Data session rejected")
    expect(table).to_contain_text("Endpoint state changed")
    screenshot(page, "activity")
    assert_accessible(page, "activity")

    # Filtering swaps the results in place (HTMX) and the URL follows.
    page.get_by_label("Type").select_option("endpoint.session_rejected")
    page.wait_for_url(re.compile(r"type=endpoint\.session_rejected"))
    expect(page.get_by_test_id("activity-row")).to_have_count(1)
    expect(page.get_by_test_id("activity-row")).to_contain_text(fleet["refused"].iccid)
    assert_accessible(page, "activity-filtered")
    assert_no_csp_violations(console_log)
