"""E-mailed links (password reset, invitation) are built from ``PORTAL_BASE_URL``,
never from the request's Host header: a forged port or host in the request does
not end up in the e-mail (docs/production.md)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE = "https://portal.example.com"
FORGED = "testserver:6666"  # ALLOWED_HOSTS ignores the port: this Host is accepted


@pytest.fixture
def base_url(settings):
    settings.PORTAL_BASE_URL = BASE
    return BASE


def _links(body: str) -> list[str]:
    return re.findall(r"https?://\S+", body)


def test_a_reset_link_ignores_a_forged_host_header(client, base_url):
    UserFactory(username="resetme", email="resetme@vantiq.example")

    response = client.post(
        reverse("password_reset"), {"email": "resetme@vantiq.example"}, HTTP_HOST=FORGED
    )

    assert response.status_code == 302
    [link] = _links(mail.outbox[-1].body)
    assert link.startswith(BASE + "/password-reset/")
    assert "6666" not in mail.outbox[-1].body


def test_an_invitation_link_ignores_a_forged_host_header(client, account, base_url):
    admin = MemberFactory(account=account, role="admin", user__username="inviter").user
    client.force_login(admin)

    response = client.post(
        reverse("team:member_invite"),
        {"email": "new@vantiq.example", "role": "viewer"},
        HTTP_HOST=FORGED,
    )

    assert response.status_code == 302
    [link] = _links(mail.outbox[-1].body)
    assert link.startswith(BASE + "/invitation/")
    assert "6666" not in mail.outbox[-1].body


def test_without_a_base_url_development_links_use_the_request(client, settings):
    """Unset (development, tests): the request's own address; the deploy check
    warns about it in production (tests/config/test_security.py)."""
    settings.PORTAL_BASE_URL = ""
    UserFactory(username="resetme", email="resetme@vantiq.example")

    client.post(reverse("password_reset"), {"email": "resetme@vantiq.example"})

    [link] = _links(mail.outbox[-1].body)
    assert link.startswith("http://testserver/password-reset/")
