"""Passwords: change (old one asked, other sessions end, this one stays) and
reset by e-mail (same answer for known and unknown addresses, a link that works
once and for an hour, other sessions end, requests limited per client and per
address); each change is one audit row."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from portal import passwords

pytestmark = pytest.mark.django_db

CHANGE = reverse("password_change")
RESET = reverse("password_reset")
NEW = "another-long-pass-7"


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def op_with_email(operator):
    operator.email = "op@vantiq.example"
    operator.save()
    return operator


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def is_signed_in(client: Client) -> bool:
    response = client.get(reverse("inventory:endpoint_list"))
    return response.status_code == 200


def test_change_needs_sign_in(client):
    response = client.get(CHANGE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_wrong_old_password_changes_nothing(operator):
    client = signed_in(operator)
    response = client.post(
        CHANGE, {"old_password": "nope", "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    operator.refresh_from_db()
    assert operator.check_password("pw")
    assert not AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED).exists()


def test_changing_ends_other_sessions_keeps_this_one_and_is_audited(operator):
    here, elsewhere = signed_in(operator), signed_in(operator)

    response = here.post(
        CHANGE,
        {"old_password": "pw", "new_password1": NEW, "new_password2": NEW},
        REMOTE_ADDR="192.0.2.50",
    )

    assert response["Location"] == reverse("password_change_done")
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
    [row] = AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED)
    assert (row.actor, row.ip, row.account) == (operator, "192.0.2.50", None)


def test_reset_answers_the_same_for_known_and_unknown_addresses(client, op_with_email):
    known = client.post(RESET, {"email": "op@vantiq.example"})
    unknown = client.post(RESET, {"email": "nobody@vantiq.example"})

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("password_reset_done")
    assert [m.to for m in mail.outbox] == [["op@vantiq.example"]]


def reset_link(client, email="op@vantiq.example") -> str:
    client.post(RESET, {"email": email})
    return re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[-1].body).group(1)


def choose(client, link: str, password: str = NEW, **extra):
    """Open the e-mailed link (Django moves the token into the session) and set
    the password."""
    form = client.get(link, follow=True)
    return form, client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": password, "new_password2": password},
        **extra,
    )


def test_a_reset_ends_every_session_works_once_and_is_audited(client, op_with_email):
    elsewhere = signed_in(op_with_email)
    link = reset_link(client)

    _, done = choose(client, link, REMOTE_ADDR="192.0.2.51")

    assert done["Location"] == reverse("password_reset_complete")
    op_with_email.refresh_from_db()
    assert op_with_email.check_password(NEW)
    assert not is_signed_in(elsewhere)
    assert USER_SESSION_KEY not in client.session  # not signed in by the reset either
    [row] = AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET)
    assert (row.actor, row.ip) == (op_with_email, "192.0.2.51")

    again = Client().get(link, follow=True)
    assert "This link cannot be used" in again.content.decode()


def test_a_reset_link_older_than_an_hour_has_expired(client, op_with_email, monkeypatch):
    link = reset_link(client)
    later = datetime.now() + timedelta(hours=1, minutes=1)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)

    page = client.get(link, follow=True)

    assert "This link cannot be used" in page.content.decode()
    op_with_email.refresh_from_db()
    assert op_with_email.check_password("pw")


def test_reset_mails_to_one_address_are_limited_without_saying_so(client, op_with_email):
    answers = [
        client.post(RESET, {"email": "op@vantiq.example"}, REMOTE_ADDR=f"192.0.2.{n}")
        for n in range(passwords.RESETS_PER_ADDRESS + 2)
    ]

    assert {(a.status_code, a["Location"]) for a in answers} == {
        (302, reverse("password_reset_done"))
    }
    assert len(mail.outbox) == passwords.RESETS_PER_ADDRESS


def test_reset_requests_from_one_client_are_limited(client, op_with_email):
    for n in range(passwords.RESETS_PER_CLIENT):
        client.post(RESET, {"email": f"someone{n}@x.example"}, REMOTE_ADDR="198.51.100.9")

    limited = client.post(RESET, {"email": "op@vantiq.example"}, REMOTE_ADDR="198.51.100.9")
    elsewhere = client.post(RESET, {"email": "op@vantiq.example"}, REMOTE_ADDR="198.51.100.10")

    assert limited.status_code == 429
    assert "Try again in an hour" in limited.content.decode()
    assert elsewhere.status_code == 302
    assert [m.to for m in mail.outbox] == [["op@vantiq.example"]]


@pytest.mark.parametrize("email", ["not-an-address", "a\x00@b.example", "x" * 300 + "@b.example"])
def test_a_bad_address_is_explained(client, email):
    response = client.post(RESET, {"email": email})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert not mail.outbox
