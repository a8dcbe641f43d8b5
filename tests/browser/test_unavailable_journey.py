"""The page a browser gets while the database is away (portal/database_unavailable.py):
rendered by the portal's own code for a real lost connection (a refused one),
shown in Chromium with the portal's styles, readable at 1366 px and on a phone,
and without serious axe findings. The 503 itself, from real gunicorn with its
database stopped, is tests/topology/test_database_restart.py."""

import pytest
from django.db import DatabaseError, connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import RequestFactory
from playwright.sync_api import expect

from portal.database_unavailable import response_for
from tests.browser.support import assert_accessible, assert_fits, screenshot
from tests.topology.cluster import free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _lost_connection() -> DatabaseError:
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(free_port())}
    settings_dict["OPTIONS"] = {}
    try:
        DatabaseWrapper(settings_dict).ensure_connection()
    except DatabaseError as exc:
        return exc
    raise AssertionError("a closed port accepted a connection")


def test_the_try_again_page_is_readable_and_accessible(page, live_server):
    request = RequestFactory().get("/inventory/endpoints/")
    response = response_for(request, _lost_connection())
    assert response.status_code == 503
    # Served from the live server's origin, so the page's stylesheets load.
    page.goto(f"{live_server.url}/healthz")
    page.set_content(response.content.decode())
    expect(page.get_by_role("heading", name="Try again in a moment")).to_be_visible()
    expect(page.get_by_test_id("database-unavailable")).to_contain_text("Nothing you sent")
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"
    assert_fits(page)
    screenshot(page, "database-unavailable")
    assert_accessible(page, "database-unavailable")
