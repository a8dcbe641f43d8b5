"""The rows every writer of an account shares are spread over stripes
(usage/models.py ``AccountDailyUsage``, ``StateCount``): two transactions of
one account, on two connections at the same time, add to its day of usage and
move its state counts without waiting for each other's COMMIT, and the readers
see the sums."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from inventory.models import Endpoint, State
from tests.inventory.network.test_rules import apply, endpoint_in, ev
from tests.other_transaction import held_open
from usage import counts, selectors
from usage.models import STRIPES, AccountDailyUsage, StateCount


class _SameStripe(Exception):
    pass


def _stripe() -> int:
    """The stripe of the transaction running on this connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current() %% %s", [STRIPES])
        return cursor.fetchone()[0]


def _while_held(first, second) -> None:
    """Run ``first`` in a transaction on another connection and keep it open
    while ``second`` runs here in a transaction of another stripe, under a 2 s
    lock timeout: with one row to share, ``second`` waited for the COMMIT of
    ``first`` and failed with "canceling statement due to lock timeout"."""

    def first_on_its_stripe() -> int:
        stripe = _stripe()
        first()
        return stripe

    with held_open(first_on_its_stripe) as taken:
        # Transactions of other work on the server take ids meanwhile: one in
        # eight of ours falls on the held stripe; it is rolled back and tried
        # again with the next id.
        for _ in range(64):
            try:
                with transaction.atomic():
                    if _stripe() == taken:
                        raise _SameStripe
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL lock_timeout = '2s'")
                    second()
                break
            except _SameStripe:
                continue


@pytest.mark.django_db(transaction=True)
def test_two_batches_of_one_account_add_to_its_day_without_waiting(group):
    one, two = endpoint_in(group, State.ACTIVE), endpoint_in(group, State.ACTIVE)
    results = []
    _while_held(
        lambda: apply(ev("session_update", one, 1, bytes_up=100, bytes_down=1_000)),
        lambda: results.extend(apply(ev("session_update", two, 2, bytes_up=7, bytes_down=70))),
    )
    assert [r["status"] for r in results] == ["accepted"]
    assert AccountDailyUsage.objects.filter(account=group.account).count() == 2
    days = selectors.account_days(group.account, days=2)  # the events are an hour old
    assert (sum(d.bytes_up for d in days), sum(d.bytes_down for d in days)) == (107, 1_070)


@pytest.mark.django_db(transaction=True)
def test_two_writers_move_one_accounts_counts_without_waiting(group):
    one, two = endpoint_in(group, State.IDLE), endpoint_in(group, State.IDLE)
    _while_held(
        lambda: Endpoint.objects.filter(pk=one.pk).update(state=State.SUSPENDED),
        lambda: Endpoint.objects.filter(pk=two.pk).update(state=State.SUSPENDED),
    )
    # Each writer moved its endpoint on its own stripe: the idle count is +2
    # (the factory's inserts) and -1, -1 spread over the rows; the sums are exact.
    assert StateCount.objects.filter(account=group.account, state=State.IDLE).count() >= 2
    kept = counts.account_counts(group.account)
    assert kept == {(State.SUSPENDED, group.pk): 2}
    assert counts.matching(account=group.account, states=[State.IDLE]) == 0
