"""An account admin creates an API token in Chromium, copies it from the page
that shows it once, uses it against the API, and revokes it; the interactive
API docs load from our own assets within the Content-Security-Policy. axe
checks each portal page at 1366 px and at a phone's width."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from api.models import ApiToken
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.factories import EndpointFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_use_and_revoke_a_token(page, console_log, sign_in, admin_member, account):
    EndpointFactory(account=account, name="truck-7")
    sign_in(admin_member)
    page.goto("/inventory/endpoints/")
    page.get_by_role("button", name="Account").click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    assert_accessible(page, "api-tokens-empty")

    page.get_by_label("Name").fill("fleet-sync")
    page.get_by_label("Role").select_option("operator")
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("textbox", name="Token", exact=True)
    plain = shown.input_value()
    assert plain.startswith("epk_")
    expect(page.get_by_test_id("token-row")).to_contain_text("Operator")
    screenshot(page, "api-token-created")
    assert_accessible(page, "api-token-created")

    api = Client()
    auth = {"Authorization": f"Bearer {plain}"}
    listed = api.get("/api/v1/endpoints", headers=auth).json()["results"]
    assert [row["name"] for row in listed] == ["truck-7"]

    page.goto(page.url)  # the page again (a reload would send the form again)
    expect(page.get_by_test_id("new-token")).to_have_count(0)  # shown once only

    page.get_by_role("link", name="Revoke fleet-sync").click()
    assert_accessible(page, "api-token-revoke")
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_test_id("token-row")).to_contain_text("revoked")
    assert ApiToken.objects.get().revoked_at is not None
    assert api.get("/api/v1/endpoints", headers=auth).status_code == 401
    assert_no_csp_violations(console_log)


def test_the_api_docs_render_within_the_csp(page, console_log):
    page.goto("/api/v1/docs")
    expect(page.get_by_text("Endpoint Portal API").first).to_be_visible(timeout=15_000)
    expect(page.get_by_text("/api/v1/endpoints/{iccid}").first).to_be_visible()
    screenshot(page, "api-docs")
    assert_no_csp_violations(console_log)
