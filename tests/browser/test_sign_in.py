"""Signing in through the real form, in Chromium, under the real CSP."""

import re

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_lands_on_the_endpoints_with_a_session(page, console_log, operator):
    page.goto("/inventory/endpoints/")

    # Not signed in: the login page, remembering where the user was going.
    expect(page).to_have_url(re.compile(r"/login/\?next=/inventory/endpoints/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")
    assert_accessible(page, "login")

    page.get_by_label("Username").fill("op")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/inventory/endpoints/$"))
    header = page.locator("header")
    expect(header).to_contain_text("op")
    expect(header).to_contain_text("Vantiq Connect")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    sessions = [s.get_decoded() for s in Session.objects.all()]
    assert [s.get("_auth_user_id") for s in sessions] == [str(operator.pk)]
    assert_no_csp_violations(console_log)


def test_wrong_password_shows_the_error_and_signs_nobody_in(page, console_log, operator):
    page.goto("/login/")
    page.get_by_label("Username").fill("op")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_label("Username")).to_have_value("op")
    assert not any(s.get_decoded().get("_auth_user_id") for s in Session.objects.all())
    assert_no_csp_violations(console_log)
