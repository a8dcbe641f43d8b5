"""An account admin adds a webhook pointing at a real receiver, copies the
secret shown once, sends a test event, sees it in the delivery log and
redelivers it; a refused URL says why. axe checks each page, at 1366 px and at
a phone's width."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.webhooks.conftest import run_queue
from tests.webhooks.receiver import Receiver
from webhooks.models import Webhook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_an_admin_adds_a_webhook_and_sends_a_test_event(
    page, console_log, sign_in, admin_member, receiver
):
    sign_in(admin_member)
    page.goto("/inventory/jobs/")
    page.get_by_role("button", name="Account").click()
    page.get_by_role("link", name="Webhooks").click()
    page.wait_for_url("**/account/webhooks/")
    expect(page.get_by_test_id("no-webhooks")).to_be_visible()
    assert_accessible(page, "webhook-list-empty")

    page.get_by_role("link", name="Add webhook").click()
    page.get_by_label("URL").fill("https://10.0.0.1/in")
    page.get_by_label("Endpoint state changed (endpoint.state_changed)").check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_text("10.0.0.1, a private address: refused")).to_be_visible()
    assert not Webhook.objects.exists()
    assert_accessible(page, "webhook-form-refused")

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("ERP")
    page.get_by_role("button", name="Add webhook").click()
    page.wait_for_url(re.compile(r"/account/webhooks/\d+/$"))
    webhook = Webhook.objects.get()
    expect(page.get_by_test_id("secret")).to_have_text(webhook.secret)
    receiver.secret = page.get_by_test_id("secret").inner_text()
    screenshot(page, "webhook-secret-once")
    assert_accessible(page, "webhook-secret-once")

    page.get_by_role("button", name="Send test event").click()
    # A second click while the first waits is refused (409), with the page and why.
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text("A test event of this webhook is already waiting")).to_be_visible()
    assert_accessible(page, "webhook-test-refused")
    run_queue()
    page.goto(f"/account/webhooks/{webhook.pk}/")  # not a reload: that would POST again
    expect(page.get_by_test_id("secret-once")).to_have_count(0)
    row = page.get_by_test_id("attempt-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("200")
    assert [body["type"] for body in receiver.bodies()] == ["webhook.test"]

    row.get_by_role("button", name=re.compile("Redeliver")).click()
    run_queue()
    page.reload()
    expect(page.get_by_test_id("attempt-row")).to_have_count(2)
    expect(page.get_by_test_id("attempt-row").first).to_contain_text("Redelivery")
    assert len(receiver.received) == 2
    screenshot(page, "webhook-delivery-log")
    assert_accessible(page, "webhook-delivery-log")

    page.get_by_role("link", name="Webhooks").first.click()
    expect(page.get_by_test_id("webhook-row")).to_contain_text("ERP")
    assert_accessible(page, "webhook-list")
    assert_no_csp_violations(console_log)
