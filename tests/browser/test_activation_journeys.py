"""Activate a SIM from its packaging and tag it with key values, in Chromium:
the activation page (a wrong code refused with the one message), the new
Pending endpoint, its Key Values tab edited, the list filtered by the pair."""

import re

import pytest
from playwright.sync_api import expect

from inventory import activation_codes
from inventory.activation import REFUSED
from inventory.models import Endpoint, KeyValue, State, StockSim
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.factories import iccid_for, imsi_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = "QX7R-4KMA-92TB"


@pytest.fixture
def sim():
    return StockSim.objects.create(
        iccid=iccid_for(700_001),
        imsis=[imsi_for(700_001)],
        code_hash=activation_codes.make_hash(activation_codes.clean_code(CODE)),
    )


def test_activate_a_sim_and_edit_its_key_values(page, console_log, sign_in, operator, sim):
    sign_in(operator)
    page.goto("/inventory/endpoints/")
    page.get_by_role("link", name="Activate SIMs").click()
    page.wait_for_url(re.compile(r"/inventory/activate/$"))
    screenshot(page, "activate")
    assert_accessible(page, "activate")

    # A wrong code: the one refusal, nothing activated.
    page.get_by_label("ICCID").fill(sim.iccid)
    page.get_by_label("Activation code").fill("WRONG-CODE-1")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_test_id("activation-refused")).to_have_text(REFUSED)
    assert_accessible(page, "activate-refused")
    assert not Endpoint.objects.exists()

    page.get_by_label("Activation code").fill(CODE.lower())
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(re.compile(rf"/inventory/endpoints/{sim.iccid}/$"))
    expect(page.locator("main")).to_contain_text("activated: it is a Pending endpoint")
    expect(page.locator("main")).to_contain_text(sim.imsis[0])
    assert Endpoint.objects.get(iccid=sim.iccid).state == State.PENDING

    page.get_by_role("link", name="Key Values").click()
    page.wait_for_url(re.compile(r"/key-values/$"))
    expect(page.get_by_role("link", name="Key Values")).to_have_attribute("aria-current", "page")
    screenshot(page, "endpoint-key-values")
    assert_accessible(page, "endpoint-key-values")

    # A bad key is explained, nothing saved; then a good set.
    page.get_by_label("New key 1", exact=True).fill("Depot")
    page.get_by_label("Value of new key 1").fill("hamburg")
    page.get_by_role("button", name="Save key values").click()
    expect(page.get_by_test_id("key-values-refused")).to_contain_text("is not a valid key")
    assert_accessible(page, "endpoint-key-values-refused")
    assert not KeyValue.objects.exists()

    page.get_by_label("Key 1", exact=True).fill("depot")
    page.get_by_label("New key 1", exact=True).fill("vin")
    page.get_by_label("Value of new key 1").fill("WDB9634031L123456")
    page.get_by_role("button", name="Save key values").click()
    expect(page.locator(".messages")).to_contain_text("Key values of")
    endpoint = Endpoint.objects.get(iccid=sim.iccid)
    assert dict(endpoint.key_values.values_list("key", "value")) == {
        "depot": "hamburg",
        "vin": "WDB9634031L123456",
    }

    page.get_by_role("link", name="History").click()
    expect(page.locator("main")).to_contain_text("Key values changed")
    expect(page.locator("main")).to_contain_text("Activated by the account")

    page.goto("/inventory/endpoints/?kv=depot:hamburg")
    expect(page.get_by_role("link", name=sim.iccid)).to_be_visible()
    assert_accessible(page, "endpoint-list-kv")
    page.goto("/inventory/endpoints/?kv=depot:berlin")
    expect(page.get_by_role("link", name=sim.iccid)).to_have_count(0)

    # Bulk "Set key value" on the ticked endpoint: ask, preview, confirm.
    page.goto("/inventory/endpoints/")
    page.get_by_label(f"Select {sim.iccid}").check()
    page.get_by_role("button", name="Set key value").click()
    expect(page.get_by_role("heading", name="Set key value")).to_be_visible()
    assert_accessible(page, "bulk-set-key-value")
    page.get_by_label("Key", exact=True).fill("depot")
    page.get_by_label("Value", exact=True).fill("berlin")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-summary")).to_contain_text("1 endpoint will be set depot")
    screenshot(page, "bulk-set-key-value-preview")
    assert_accessible(page, "bulk-set-key-value-preview")
    page.get_by_role("button", name="Set key value").click()
    expect(page.locator(".messages")).to_contain_text("1 endpoint set depot")
    assert KeyValue.objects.get(endpoint=endpoint, key="depot").value == "berlin"
    assert_no_csp_violations(console_log)
