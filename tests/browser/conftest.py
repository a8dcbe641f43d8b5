"""Real-browser journeys: Chromium (Debian's, or one Playwright downloaded; see
chromium.py) driven by Playwright's sync API against the portal served by
pytest-django's ``live_server`` on PostgreSQL.

Playwright's sync API runs an event loop in the test thread, so Django would
refuse ORM calls made there (factories, assertions on the database) as unsafe
in async context; the live server's own thread is unaffected."""

import os

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from portal.tenancy import SESSION_KEY as ACCOUNT_SESSION_KEY  # noqa: E402
from tests.browser.chromium import find_chromium, not_found_message  # noqa: E402
from tests.browser.support import DESKTOP  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """A Chromium found on this machine instead of a browser download (none can be
    fetched at test time). Outside CI a machine without one skips these tests; in
    CI that is a failure."""
    chromium, looked_at = find_chromium(os.environ, Path.home())
    if chromium is None:
        message = not_found_message(looked_at)
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": str(chromium), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server):
    return {
        **browser_context_args,
        "base_url": live_server.url,
        "viewport": DESKTOP,
        "locale": "en-GB",
        "timezone_id": "UTC",
    }


@pytest.fixture
def context(context):
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    return context


@pytest.fixture
def console_log(page) -> list[str]:
    """Every console message and uncaught error of the page, for the CSP check."""
    messages: list[str] = []
    page.on(
        "console",
        lambda message: messages.append(f"{message.type}: {message.text} (at {page.url})"),
    )
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error} (at {page.url})"))
    return messages


@pytest.fixture
def sign_in(context, live_server):
    """Sign ``user`` in without the form (the sign-in journey covers the form):
    a session made by Django's test client, handed to the browser as a cookie."""

    def _sign_in(user, account=None) -> None:
        client = Client()
        client.force_login(user)
        if account is not None:
            session = client.session
            session[ACCOUNT_SESSION_KEY] = account.pk
            session.save()
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )

    return _sign_in
