"""Secrets shown once are kept nowhere else: reset and invitation tokens never
reach a log record (the access log's ``path=``, Django's own "Bad Request: …"),
a new API token or webhook secret never sits in a ``django_session`` row, and
every page that carries a secret is ``Cache-Control: no-store``, signed in or
not."""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from api.models import ApiToken
from portal.secret_paths import redact
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


def session_contents() -> str:
    """Every session row, decoded, as one text."""
    return "\n".join(str(session.get_decoded()) for session in Session.objects.all())


def everything_logged(caplog) -> str:
    """Each record's message and its structured fields."""
    return "\n".join(
        f"{record.getMessage()} {getattr(record, 'access', '')}" for record in caplog.records
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_reset_and_invitation_tokens_never_reach_a_log_record(caplog, admin_member, operator):
    caplog.set_level(logging.INFO)
    operator.email = "op@vantiq.example"
    operator.save()
    Client().post(reverse("password_reset"), {"email": "op@vantiq.example"})
    reset = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[-1].body).group(1)
    signed_in(admin_member).post(
        reverse("team:member_invite"), {"email": "new@vantiq.example", "role": "viewer"}
    )
    invitation = re.search(r"http://testserver(/invitation/[^/\s]+/)", mail.outbox[-1].body).group(
        1
    )
    reset_token = reset.rstrip("/").rsplit("/", 1)[1]
    invitation_token = invitation.rstrip("/").rsplit("/", 1)[1]

    visitor = Client()
    visitor.get(reset)
    visitor.get(invitation)
    visitor.post(invitation, {"username": "x", "password1": "a", "password2": "b"})
    visitor.get(invitation[:-5] + "XXXX/")  # a broken link: a 400 Django logs itself
    visitor.get(reset[:-5] + "XXXX/")

    logged = everything_logged(caplog)
    assert "path=/invitation/REDACTED/" in logged
    assert "path=/password-reset/" in logged and "/REDACTED/" in logged
    for secret in (reset_token, invitation_token, invitation_token[:-4], reset_token[:-4]):
        assert secret not in logged


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/invitation/abc.def:1x:zz/", "/invitation/REDACTED/"),
        (
            "path=/password-reset/MQ/cx-123abc/ status=200",
            "path=/password-reset/MQ/REDACTED/ status=200",
        ),
        ("/password-reset/MQ/set-password/", "/password-reset/MQ/set-password/"),
        ("/password-reset/sent/", "/password-reset/sent/"),
        ("/x/?token=abc&page=2", "/x/?token=REDACTED&page=2"),
        ("/x/?a=1&secret=s3", "/x/?a=1&secret=REDACTED"),
    ],
)
def test_what_is_redacted(text, expected):
    assert redact(text) == expected


def test_a_new_api_token_is_shown_but_never_stored_in_the_session(admin_member):
    client = signed_in(admin_member)

    response = client.post(reverse("api_tokens:token_list"), {"name": "ci", "role": "viewer"})

    assert response.status_code == 200
    plain = re.search(r'value="(epk_[^"]+)"', response.content.decode()).group(1)
    assert ApiToken.objects.get(name="ci").prefix == plain[: len(ApiToken.objects.get().prefix)]
    assert "no-store" in response["Cache-Control"]
    assert plain not in session_contents()
    assert plain not in client.get(reverse("api_tokens:token_list")).content.decode()


def test_a_webhook_secret_is_shown_once_but_never_stored_in_the_session(admin_member):
    client = signed_in(admin_member)
    created = client.post(
        reverse("webhooks:webhook_create"),
        {"url": "http://127.0.0.1:9/in", "event_types": ["job.finished"], "enabled": "on"},
    )
    webhook = Webhook.objects.get()
    assert webhook.secret not in session_contents()
    page = client.get(created["Location"])
    assert webhook.secret in page.content.decode() and "no-store" in page["Cache-Control"]

    rotated = client.post(reverse("webhooks:webhook_rotate", args=[webhook.pk]))
    webhook.refresh_from_db()
    assert webhook.secret not in session_contents()
    assert webhook.secret in client.get(rotated["Location"]).content.decode()
    assert webhook.secret not in client.get(rotated["Location"]).content.decode()


def test_every_page_that_carries_a_secret_is_no_store_signed_out_too(admin_member, operator):
    operator.email = "op@vantiq.example"
    operator.save()
    Client().post(reverse("password_reset"), {"email": "op@vantiq.example"})
    reset = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[-1].body).group(1)
    signed_in(admin_member).post(
        reverse("team:member_invite"), {"email": "new@vantiq.example", "role": "viewer"}
    )
    invitation = re.search(r"http://testserver(/invitation/[^/\s]+/)", mail.outbox[-1].body).group(
        1
    )
    visitor = Client()

    pages = [
        visitor.get(invitation),  # the join form
        visitor.post(invitation, {"username": "x", "password1": "a", "password2": "b"}),
        visitor.get(invitation[:-5] + "XXXX/"),  # refused
        visitor.get(reset, follow=True),  # Django's redirect and its set-password form
        visitor.get(reset),
    ]

    for response in pages:
        assert "no-store" in response.get("Cache-Control", ""), response.request["PATH_INFO"]
