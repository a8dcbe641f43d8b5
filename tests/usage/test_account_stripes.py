"""An account's daily usage is spread over stripes (usage/models.py
``AccountDailyUsage``): two batches of one account, deciding at the same time
on two connections, add to its day without waiting for each other's COMMIT,
and the day reads as their sum."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from inventory.models import State
from tests.inventory.network.test_rules import apply, endpoint_in, ev
from usage import selectors
from usage.models import ACCOUNT_USAGE_STRIPES, AccountDailyUsage


def _stripe() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() %% %s", [ACCOUNT_USAGE_STRIPES])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_batches_of_one_account_add_to_its_day_without_waiting(group):
    one, two = endpoint_in(group, State.ACTIVE), endpoint_in(group, State.ACTIVE)
    held, release = threading.Event(), threading.Event()
    taken: list[int] = []

    def first_batch() -> None:
        try:
            with transaction.atomic():
                taken.append(_stripe())
                apply(ev("session_update", one, 1, bytes_up=100, bytes_down=1_000))
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=first_batch)
    thread.start()
    try:
        assert held.wait(30)
        # This connection must add to another stripe than the first batch's
        # (its backend pid modulo the stripes): reconnect until it does.
        connection.close()
        for _ in range(64):
            if _stripe() != taken[0]:
                break
            connection.close()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            # With one row per day, this waited for the first batch's COMMIT
            # and failed with "canceling statement due to lock timeout".
            [result] = apply(ev("session_update", two, 2, bytes_up=7, bytes_down=70))
        assert result["status"] == "accepted"
    finally:
        release.set()
        thread.join(30)

    assert AccountDailyUsage.objects.filter(account=group.account).count() == 2
    days = selectors.account_days(group.account, days=2)  # the events are an hour old
    assert (sum(d.bytes_up for d in days), sum(d.bytes_down for d in days)) == (107, 1_070)
