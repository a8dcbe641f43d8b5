"""An account admin creates an API token in Chromium, copies it from the page
that shows it once, uses it against the API, and revokes it; pages through a
long list of tokens and filters it by creator, role and last use; the
interactive API docs load from our own assets within the Content-Security-
Policy. axe checks each portal page at 1366 px and at a phone's width."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from api.models import ApiToken
from api.views import PAGE_SIZE
from portal.models import Role
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
    page.get_by_label("Role", exact=True).select_option("operator")
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


def test_page_and_filter_a_long_list_of_tokens(page, console_log, sign_in, admin_member, account):
    start = timezone.now() - timedelta(days=200)
    ApiToken.objects.bulk_create(
        ApiToken(
            account=account,
            name=f"sync-{i:03d}",
            role=Role.OPERATOR if i % 2 else Role.VIEWER,
            token_hash=f"{i:064d}",
            prefix="epk_x",
            created_by_label="former-admin" if i < 5 else "adm",
            created_at=start + timedelta(hours=i),
            last_used_at=start + timedelta(days=1) if i < 3 else None,
        )
        for i in range(PAGE_SIZE + 10)
    )
    sign_in(admin_member)
    page.goto("/account/api-tokens/")
    expect(page.get_by_test_id("token-count")).to_contain_text(f"of {PAGE_SIZE + 10} tokens")
    expect(page.get_by_test_id("token-row")).to_have_count(PAGE_SIZE)

    # The oldest tokens are on the next page, a link.
    page.get_by_role("link", name="Older").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.get_by_test_id("token-row")).to_have_count(10)
    expect(page.get_by_role("row", name=re.compile("sync-000"))).to_be_visible()
    assert_accessible(page, "api-tokens-page-2")

    # Who made the oldest ones, and which are unused for long: filters, as links.
    page.get_by_label("Created by").select_option("former-admin")
    page.get_by_label("Last used").select_option("stale")
    page.get_by_label("N days").fill("90")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"creator=former-admin.*used=stale"))
    expect(page.get_by_test_id("token-row")).to_have_count(3)
    expect(page.get_by_test_id("token-count")).to_contain_text("matching the filters")
    page.get_by_label("Token role").select_option("operator")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("token-row")).to_have_count(1)  # sync-001
    screenshot(page, "api-tokens-filtered")
    assert_accessible(page, "api-tokens-filtered")

    # A hand-edited link: the browser's own check would stop 0 in the field.
    page.goto("/account/api-tokens/?used=stale&days=0")
    expect(page.get_by_test_id("filter-errors")).to_contain_text("greater than or equal to 1")
    assert_accessible(page, "api-tokens-bad-filter")
    page.get_by_role("link", name="Clear").click()
    expect(page.get_by_test_id("token-row")).to_have_count(PAGE_SIZE)
    assert_no_csp_violations(console_log)


def test_the_api_docs_render_within_the_csp(page, console_log):
    page.goto("/api/v1/docs")
    expect(page.get_by_text("Endpoint Portal API").first).to_be_visible(timeout=15_000)
    expect(page.get_by_text("/api/v1/endpoints/{iccid}").first).to_be_visible()
    screenshot(page, "api-docs")
    assert_no_csp_violations(console_log)
