"""Every name the database keeps unique, taken twice at the same moment: one
request wins, the other is told the name is taken (a form error or a 409),
never a 500, and exactly one row exists. Real threads with their own
connections (``transaction=True``); a third transaction holds the name in the
unique index, uncommitted, until both requests wait on it, so both have passed
the code's own "is it taken?" check before the index decides.

The sign-up username of an invitation has its own test
(tests/team/test_signup_race.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from api.models import ApiToken
from api.tokens import create_token
from inventory.models import Group
from portal.models import Role
from tests.factories import GroupFactory
from tests.other_transaction import held_open

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0]


def race(hold: Callable[[], object], send: Callable[[], object], *, racers: int = 2) -> list:
    """``send`` in ``racers`` threads at once while ``hold`` (run in a
    transaction of its own) keeps the name; the answers."""
    answers: list = []

    def racer() -> None:
        try:
            answers.append(send())
        except BaseException as exc:  # reported in the test's thread
            answers.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=racer) for _ in range(racers)]
    with held_open(hold, rollback=True):
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks() < racers and time.monotonic() < deadline:
            time.sleep(0.05)
    for thread in threads:
        thread.join(30)
    return answers


def statuses(answers: list) -> list:
    return sorted(getattr(answer, "status_code", answer) for answer in answers)


def api_admin(account) -> Client:
    plain = create_token(
        account=account, name="racer", role=Role.ADMIN, created_by=None, creator_role=None
    )[1]
    return Client(headers={"Authorization": f"Bearer {plain}"})


def test_two_groups_of_one_name_at_once_on_the_page(account, group, admin_member):
    browser = Client()
    browser.force_login(admin_member)
    form = {"name": "twin", "vslice": group.vslice_id, "apn": "iot.example", "warning_percent": 80}

    answers = race(
        lambda: GroupFactory(account=account, name="twin", vslice=group.vslice),
        lambda: browser.post("/inventory/groups/new/", form),
    )

    assert statuses(answers) == [200, 302], answers
    [refused] = [a for a in answers if a.status_code == 200]
    assert "already has a group of that name" in refused.content.decode()
    assert Group.objects.filter(account=account, name="twin").count() == 1


def test_two_groups_of_one_name_at_once_through_the_api(account, group):
    client = api_admin(account)
    body = {"name": "twin", "vslice": group.vslice.name, "apn": "iot.example"}

    answers = race(
        lambda: GroupFactory(account=account, name="twin", vslice=group.vslice),
        lambda: client.post("/api/v1/groups", body, content_type="application/json"),
    )

    assert statuses(answers) == [201, 409], [getattr(a, "content", a) for a in answers]
    assert Group.objects.filter(account=account, name="twin").count() == 1


def test_two_renames_to_one_name_at_once_through_the_api(account, group):
    client = api_admin(account)
    first = GroupFactory(account=account, name="first", vslice=group.vslice)
    second = GroupFactory(account=account, name="second", vslice=group.vslice)
    names = iter(["first", "second"])
    lock = threading.Lock()

    def rename():
        with lock:
            name = next(names)
        return client.patch(
            f"/api/v1/groups/{name}", {"name": "twin"}, content_type="application/json"
        )

    answers = race(lambda: GroupFactory(account=account, name="twin", vslice=group.vslice), rename)

    assert statuses(answers) == [200, 409], [getattr(a, "content", a) for a in answers]
    assert Group.objects.filter(account=account, name="twin").count() == 1
    assert Group.objects.filter(pk__in=[first.pk, second.pk], name="twin").count() == 1


def test_two_api_tokens_of_one_name_at_once_on_the_page(account, admin_member):
    browser = Client()
    browser.force_login(admin_member)

    answers = race(
        lambda: create_token(
            account=account, name="ci", role=Role.VIEWER, created_by=None, creator_role=None
        ),
        lambda: browser.post("/account/api-tokens/", {"name": "ci", "role": "viewer"}),
    )

    assert statuses(answers) == [200, 400], answers
    [refused] = [a for a in answers if a.status_code == 400]
    assert "already has a token named" in refused.content.decode()
    assert ApiToken.objects.filter(account=account, name="ci").count() == 1
