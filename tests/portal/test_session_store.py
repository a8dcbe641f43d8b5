"""portal.sessions: Django's database sessions, read by a written-out statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from portal.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_the_portal_uses_it():
    assert settings.SESSION_ENGINE == "portal.sessions"


def test_a_saved_session_reads_back():
    store = SessionStore()
    store["current_account_id"] = 7
    store.save()
    again = SessionStore(store.session_key)
    assert again["current_account_id"] == 7
    assert again.session_key == store.session_key


def test_an_expired_or_unknown_session_reads_empty_and_forgets_its_key():
    store = SessionStore()
    store["x"] = 1
    store.save()
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = SessionStore(store.session_key)
    assert dict(expired.items()) == {}
    assert expired.session_key is None
    unknown = SessionStore("x" * 32)
    assert dict(unknown.items()) == {}
    assert unknown.session_key is None


def test_signing_in_and_out_still_works(client, django_user_model):
    user = django_user_model.objects.create_user("s@example.com", password="pw-long-enough-1")
    client.force_login(user)
    assert client.session["_auth_user_id"] == str(user.pk)
    client.logout()
    assert "_auth_user_id" not in client.session
