"""Provider staff add a RADIUS client (a NAS) in the Django admin in Chromium:
the generated secret is shown once in the message, never in the form again.
(No axe check: these are Django's stock admin pages, whose breadcrumb links fail
axe's link-in-text-block rule by Django's own stylesheet, on every admin page.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from network.models import RadiusClient
from tests.browser.support import assert_no_csp_violations
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_add_a_nas_and_see_its_secret_once(page, console_log, sign_in):
    sign_in(UserFactory(username="support", is_staff=True, is_superuser=True))
    page.goto("/admin/network/radiusclient/add/")
    page.get_by_label("Name").fill("pgw-eu-1")
    page.get_by_label("Address").fill("10.20.0.5/32")
    page.get_by_role("button", name="Save", exact=True).click()

    nas = RadiusClient.objects.get(name="pgw-eu-1")
    secret = nas.secret.decode()
    expect(page.get_by_text(f"Secret for “pgw-eu-1”: {secret}")).to_be_visible()
    page.goto(f"/admin/network/radiusclient/{nas.pk}/change/")
    assert secret not in page.content()
    expect(page.get_by_label("Secret")).to_have_value("")
    assert_no_csp_violations(console_log)
