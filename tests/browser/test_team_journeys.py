"""The team in Chromium: an admin invites someone by e-mail from Account →
Members; the invitee opens the e-mailed link (from Django's outbox), chooses a
username and password and lands in the account; signs out and in again; the
admin's Audit log shows the invitation, the joining and the sign-in. Then the
password change page. axe checks each page, at 1366 px and at a phone's width."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from audit.models import AuditAction, AuditEvent
from portal.models import Member, Role
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "blue-harbour-lantern-42"


def test_invite_accept_sign_in_and_the_audit_log_shows_it(
    page, console_log, sign_in, admin_member, account, browser
):
    sign_in(admin_member)
    page.goto("/inventory/endpoints/")
    page.locator("header").get_by_role("button", name="Account").click()
    page.get_by_role("link", name="Members").click()

    expect(page).to_have_url(re.compile(r"/account/members/$"))
    expect(page.get_by_test_id("member-table")).to_contain_text("adm")
    assert_accessible(page, "members")
    page.get_by_label("E-mail address").fill("dana@vantiq.example")
    page.get_by_label("Role", exact=True).select_option("operator")
    page.get_by_role("button", name="Send invitation").click()

    expect(page.locator(".messages")).to_contain_text("Invitation sent to dana@vantiq.example")
    expect(page.get_by_test_id("invitation-table")).to_contain_text("dana@vantiq.example")
    screenshot(page, "members-invited")
    assert_accessible(page, "members-invited")
    [message] = mail.outbox
    link = re.search(r"https?://\S+/invitation/\S+/", message.body).group(0)

    # The invitee, in a browser of their own.
    invitee = browser.new_context(base_url=page.url.split("/account/")[0])
    their_page = invitee.new_page()
    their_page.goto(link)
    expect(their_page.get_by_role("heading", name="Join Vantiq Connect")).to_be_visible()
    assert_accessible(their_page, "invitation-join")
    their_page.get_by_label("Username").fill("dana")
    their_page.get_by_label("Password", exact=True).fill(PASSWORD)
    their_page.get_by_label("Password again").fill(PASSWORD)
    their_page.get_by_role("button", name="Join Vantiq Connect").click()

    expect(their_page).to_have_url(re.compile(r"/inventory/endpoints/$"))
    expect(their_page.locator(".messages")).to_contain_text("Welcome to Vantiq Connect")
    assert Member.objects.get(user__username="dana").role == Role.OPERATOR
    their_page.locator("header").get_by_role("button", name="Sign out").click()
    their_page.get_by_label("Username").fill("dana")
    their_page.get_by_label("Password").fill(PASSWORD)
    their_page.get_by_role("button", name="Sign in").click()
    expect(their_page.locator("header")).to_contain_text("dana")

    # The invitation link works once.
    their_page.goto(link)
    expect(their_page.get_by_test_id("invitation-refused")).to_contain_text("already been used")
    invitee.close()

    page.goto("/account/audit-log/")
    table = page.get_by_test_id("audit-table")
    expect(table).to_contain_text("Member invited")
    expect(table).to_contain_text("Member joined")
    expect(
        table.get_by_role("row").filter(has_text="Signed in").filter(has_text="dana")
    ).not_to_have_count(0)
    screenshot(page, "audit-log")
    assert_accessible(page, "audit-log")
    page.get_by_label("Event", exact=True).select_option("member_joined")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("audit-row")).to_have_count(1)
    assert (
        AuditEvent.objects.filter(action=AuditAction.MEMBER_JOINED, actor_label="dana").count() == 1
    )
    assert_no_csp_violations(console_log)


def test_the_password_change_page(page, console_log, sign_in, operator):
    sign_in(operator)
    page.goto("/inventory/endpoints/")
    page.locator("header").get_by_role("button", name="Account").click()
    page.get_by_role("link", name="Password").click()

    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    assert_accessible(page, "password-change")
    page.get_by_label("Old password").fill("pw")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()

    expect(page.get_by_test_id("password-changed")).to_be_visible()
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD)
    assert_no_csp_violations(console_log)


def test_the_password_reset_pages(page, console_log):
    page.goto("/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    assert_accessible(page, "password-reset")
    page.get_by_label("E-mail address").fill("nobody@vantiq.example")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_test_id("reset-sent")).to_be_visible()
    assert_accessible(page, "password-reset-sent")
    assert not mail.outbox
    assert_no_csp_violations(console_log)
