"""Two-factor sign-in in Chromium, under the real CSP, with axe on every screen:
set it up from the Security page (the code computed from the secret the page
shows, as an authenticator app would), sign out, sign in with a code, then with
a recovery code, which works once."""

import re
import time

import pytest
from django.contrib.sessions.models import Session
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.two_factor import code_from_secret

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _password(page, username="op"):
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()


def _sign_out(page):
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_enrol_then_sign_in_with_a_code_and_a_recovery_code(page, console_log, operator):
    _password(page)
    expect(page).to_have_url(re.compile(r"/inventory/endpoints/$"))

    page.locator("header").get_by_role("button", name="Account").click()
    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Security")).to_be_visible()
    assert_accessible(page, "security-off")

    page.get_by_role("button", name="Set up two-factor sign-in").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    screenshot(page, "security-enrol")
    assert_accessible(page, "security-enrol")
    secret = page.get_by_test_id("totp-secret").inner_text()

    page.get_by_label("Code from the app").fill(code_from_secret(secret))
    page.get_by_role("button", name="Confirm and turn on").click()

    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    codes = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
    assert len(codes) == 10
    assert TOTPDevice.objects.get(user=operator).confirmed
    assert_accessible(page, "recovery-codes")
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_test_id("codes-left")).to_have_text("10")
    assert_accessible(page, "security-on")

    # Signing in again: the password, then the code (the next step's: the app's
    # current one was spent confirming).
    _sign_out(page)
    _password(page)
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    assert not any(s.get_decoded().get("_auth_user_id") for s in Session.objects.all())
    screenshot(page, "login-code")
    assert_accessible(page, "login-code")
    page.get_by_label("Authentication code").fill(code_from_secret(secret, time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/inventory/endpoints/$"))
    expect(page.locator("header")).to_contain_text("op")

    # A recovery code instead: it works once.
    _sign_out(page)
    _password(page)
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/inventory/endpoints/$"))
    expect(page.locator(".messages")).to_contain_text("recovery code; 9 left")

    _sign_out(page)
    _password(page)
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("code-error")).to_contain_text("That code is not valid")
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    assert_accessible(page, "login-code-refused")
    assert not any(s.get_decoded().get("_auth_user_id") for s in Session.objects.all())
    assert_no_csp_violations(console_log)


def test_a_required_member_is_led_to_enrolment(page, console_log, operator, account):
    account.require_mfa = True
    account.save()
    _password(page)

    expect(page).to_have_url(re.compile(r"/account/security/$"))
    expect(page.get_by_role("alert")).to_contain_text("requires two-factor sign-in")
    page.goto("/inventory/jobs/")
    expect(page).to_have_url(re.compile(r"/account/security/$"))
    assert_accessible(page, "security-required")
    assert_no_csp_violations(console_log)
