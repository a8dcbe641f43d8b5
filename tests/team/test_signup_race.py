"""Two people (or two tabs) sign up on one invitation with the same username at
the same moment: one joins, the other is asked for another username; never a
500. Real threads, each with its own connection, held at the database's
unique index so that both have passed the form's own "username taken" check."""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from portal.models import Member

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


def test_the_same_username_twice_at_once_is_a_form_error_not_a_500(admin_member):
    inviter = Client()
    inviter.force_login(admin_member)
    inviter.post(reverse("team:member_invite"), {"email": "twice@vantiq.example", "role": "viewer"})
    link = re.search(r"http://testserver(/invitation/[^/\s]+/)", mail.outbox[0].body).group(1)
    table = get_user_model()._meta.db_table
    # A third transaction holds the username in the unique index, uncommitted:
    # both sign-ups pass the form's check and wait on the index. Django's own
    # connection parameters: the embedded server listens on a socket of its own.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    holder = psycopg.connect(**params)
    holder.execute(
        f"INSERT INTO {table} (password, is_superuser, username, first_name, last_name, email,"
        " is_staff, is_active, date_joined) VALUES ('', false, 'racer', '', '', '', false,"
        " true, now())"
    )
    answers: list = []

    def sign_up() -> None:
        try:
            answers.append(
                Client().post(
                    link,
                    {
                        "username": "racer",
                        "password1": "a-long-pass-9",
                        "password2": "a-long-pass-9",
                    },
                )
            )
        except BaseException as exc:  # reported in the test's thread
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while _waiting_on_locks() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    holder.rollback()
    holder.close()
    for thread in threads:
        thread.join(30)

    statuses = sorted(getattr(answer, "status_code", answer) for answer in answers)
    assert statuses == [200, 302], answers
    [refused] = [answer for answer in answers if answer.status_code == 200]
    assert "was taken a moment ago" in refused.content.decode()
    [user] = get_user_model().objects.filter(username="racer")
    assert Member.objects.filter(user=user).count() == 1
