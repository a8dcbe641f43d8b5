"""Usage from network events (usage/rollup.py): bytes validated, summed per
endpoint and account per UTC day in the batch, duplicates and stale events not
counted, warnings and the suspension at the limit raised exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import History, HistoryAction, SessionTeardown, State
from network.contract import MAX_BYTES
from portal.models import ActorKind
from tests.factories import GroupFactory
from tests.inventory.network.test_rules import T0, apply, endpoint_in, ev
from usage.models import AccountDailyUsage, EndpointDailyUsage, UsageWarning, WarningKind

MB = 1_000_000


def usage_of(endpoint) -> dict[dt.date, tuple[int, int]]:
    return {
        row.day: (row.bytes_up, row.bytes_down)
        for row in EndpointDailyUsage.objects.filter(endpoint=endpoint)
    }


def day(seconds: float = 0) -> dt.date:
    return (T0 + dt.timedelta(seconds=seconds)).astimezone(dt.UTC).date()


@pytest.mark.django_db
def test_session_update_and_end_add_their_bytes_per_endpoint_and_account(group):
    one, two = endpoint_in(group, State.ACTIVE), endpoint_in(group, State.ACTIVE)
    results = apply(
        ev("session_update", one, 1, bytes_up=100, bytes_down=1_000),
        ev("session_update", two, 2, bytes_up=7, bytes_down=0),
        ev("session_end", one, 3, bytes_up=5, bytes_down=50),
    )
    assert [r["status"] for r in results] == ["accepted"] * 3
    assert usage_of(one) == {day(1): (105, 1_050)}
    assert usage_of(two) == {day(2): (7, 0)}
    totals = AccountDailyUsage.objects.get(account=group.account, day=day(1))
    assert (totals.bytes_up, totals.bytes_down) == (112, 1_050)
    one.refresh_from_db()
    assert one.state == State.IDLE


@pytest.mark.django_db
def test_session_update_makes_an_idle_endpoint_active(group):
    endpoint = endpoint_in(group, State.IDLE)
    [result] = apply(ev("session_update", endpoint, 1, bytes_up=1, bytes_down=1))
    assert result["state"] == State.ACTIVE


@pytest.mark.django_db
def test_duplicates_and_stale_events_are_not_counted(group):
    endpoint = endpoint_in(group, State.ACTIVE)
    first = ev("session_update", endpoint, 10, bytes_up=10, bytes_down=20)
    apply(first)
    results = apply(
        first,  # replayed: already received
        ev("session_update", endpoint, 5, bytes_up=1000, bytes_down=1000),  # stale
        {**ev("session_update", endpoint, 11, bytes_up=1, bytes_down=2)},
    )
    assert [r["status"] for r in results] == ["duplicate", "stale", "accepted"]
    in_batch = ev("session_update", endpoint, 12, bytes_up=3, bytes_down=3)
    assert [r["status"] for r in apply(in_batch, in_batch)] == ["accepted", "duplicate"]
    assert usage_of(endpoint) == {day(10): (14, 25)}
    totals = AccountDailyUsage.objects.get(account=group.account)
    assert (totals.bytes_up, totals.bytes_down) == (14, 25)


@pytest.mark.django_db
def test_usage_is_kept_per_utc_day(group):
    endpoint = endpoint_in(group, State.ACTIVE)
    midnight = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)
    before = (midnight - dt.timedelta(seconds=1)).astimezone(dt.timezone(dt.timedelta(hours=2)))
    events = [
        {**ev("session_update", endpoint), "at": before.isoformat(), "bytes_up": 1},
        {**ev("session_update", endpoint), "at": midnight.isoformat(), "bytes_up": 2},
    ]
    apply(*events)
    assert usage_of(endpoint) == {
        midnight.date() - dt.timedelta(days=1): (1, 0),
        midnight.date(): (2, 0),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"bytes_up": -1}, "bad_bytes"),
        ({"bytes_down": MAX_BYTES}, "bad_bytes"),
        ({"bytes_up": 1.5}, "bad_bytes"),
        ({"bytes_up": "10"}, "bad_bytes"),
        ({"bytes_up": True}, "bad_bytes"),
        ({"bytes_down": [1]}, "bad_bytes"),
    ],
)
def test_bad_byte_counts_are_invalid_and_change_nothing(group, extra, reason):
    endpoint = endpoint_in(group, State.ACTIVE)
    [result] = apply(ev("session_update", endpoint, 1, **extra))
    assert (result["status"], result["reason"]) == ("invalid", reason)
    assert not EndpointDailyUsage.objects.exists()
    endpoint.refresh_from_db()
    assert endpoint.last_activity is None or endpoint.last_activity < T0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["attach", "detach", "session_start"])
def test_bytes_on_other_events_are_refused(group, kind):
    endpoint = endpoint_in(group, State.IDLE)
    [result] = apply(ev(kind, endpoint, 1, bytes_up=1))
    assert (result["status"], result["reason"]) == ("invalid", "bytes_not_allowed")


@pytest.mark.django_db
def test_largest_allowed_count_is_stored(group):
    endpoint = endpoint_in(group, State.ACTIVE)
    apply(ev("session_end", endpoint, 1, bytes_up=MAX_BYTES - 1, bytes_down=0))
    assert usage_of(endpoint) == {day(1): (MAX_BYTES - 1, 0)}


@pytest.mark.django_db
def test_usage_costs_one_statement_per_batch_however_many_events(group):
    endpoints = [endpoint_in(group, State.ACTIVE) for _ in range(20)]
    small = [ev("session_update", endpoints[0], 1, bytes_up=1)]
    big = [ev("session_update", e, n + 2, bytes_up=n) for n, e in enumerate(endpoints)] * 1
    with CaptureQueriesContext(connection) as one:
        apply(*small)
    with CaptureQueriesContext(connection) as many:
        apply(*big)
    assert len(many.captured_queries) == len(one.captured_queries)


# --- allowance -----------------------------------------------------------------


def allowance_group(account, **kwargs):
    return GroupFactory(account=account, data_allowance_mb=10, warning_percent=80, **kwargs)


@pytest.mark.django_db
def test_crossing_the_warning_percent_raises_one_warning(account):
    group = allowance_group(account)
    endpoint = endpoint_in(group, State.ACTIVE)
    apply(ev("session_update", endpoint, 1, bytes_down=7 * MB))
    assert not UsageWarning.objects.exists()
    apply(ev("session_update", endpoint, 2, bytes_down=MB + 1))
    apply(ev("session_update", endpoint, 3, bytes_down=MB // 2))
    [warning] = UsageWarning.objects.all()
    assert (warning.kind, warning.used_bytes, warning.allowance_bytes) == (
        WarningKind.WARNING,
        8 * MB + 1,
        10 * MB,
    )
    [row] = History.objects.filter(endpoint=endpoint, action=HistoryAction.USAGE_WARNING)
    assert row.actor_kind == ActorKind.SYSTEM
    endpoint.refresh_from_db()
    assert endpoint.state == State.ACTIVE  # no suspension without suspend_at_limit


@pytest.mark.django_db
def test_suspend_at_limit_suspends_exactly_once_with_history(account):
    group = allowance_group(account, suspend_at_limit=True)
    endpoint = endpoint_in(group, State.ACTIVE)
    endpoint.imsis.create(account=account, imsi="001010000099999")
    apply(
        ev("session_update", endpoint, 1, bytes_down=9 * MB),
        ev("session_update", endpoint, 2, bytes_down=2 * MB),
    )
    endpoint.refresh_from_db()
    assert endpoint.state == State.SUSPENDED
    kinds = set(UsageWarning.objects.values_list("kind", flat=True))
    assert kinds == {WarningKind.WARNING, WarningKind.LIMIT}
    # The suspended endpoint's session end still reports bytes: counted, no second suspension.
    apply(ev("session_end", endpoint, 3, bytes_down=MB))
    assert usage_of(endpoint)[day(1)] == (0, 12 * MB)
    suspensions = History.objects.filter(endpoint=endpoint, action=HistoryAction.SUSPEND)
    assert suspensions.count() == 1
    assert suspensions.get().actor_kind == ActorKind.SYSTEM
    assert UsageWarning.objects.count() == 2
    assert SessionTeardown.objects.filter(endpoint=endpoint).exists()


@pytest.mark.django_db
def test_no_allowance_no_warning(group):
    endpoint = endpoint_in(group, State.ACTIVE)
    apply(ev("session_update", endpoint, 1, bytes_down=10**12 - 1))
    assert not UsageWarning.objects.exists()


@pytest.mark.django_db
def test_a_crossing_is_an_account_event_with_its_suspension(account):
    from events.models import AccountEvent
    from events.models import EventType as AccountEventType
    from webhooks.models import Webhook

    Webhook.objects.create(
        account=account,
        url="http://127.0.0.1:9/hook",
        event_types=[AccountEventType.USAGE_WARNING, AccountEventType.STATE_CHANGED],
        secret="whsec_" + "C" * 32,
    )
    group = allowance_group(account, suspend_at_limit=True)
    endpoint = endpoint_in(group, State.ACTIVE)
    apply(ev("session_update", endpoint, 1, bytes_down=11 * MB))

    warnings = AccountEvent.objects.filter(type=AccountEventType.USAGE_WARNING).order_by("pk")
    assert sorted((e.endpoint_id, e.payload["kind"]) for e in warnings) == [
        (endpoint.pk, WarningKind.LIMIT),
        (endpoint.pk, WarningKind.WARNING),
    ]
    assert {e.payload["allowance_bytes"] for e in warnings} == {10 * MB}
    assert {e.payload["kind"]: e.payload["suspends"] for e in warnings} == {
        WarningKind.LIMIT: True,
        WarningKind.WARNING: False,
    }
    changed = AccountEvent.objects.filter(
        type=AccountEventType.STATE_CHANGED, endpoint_id=endpoint.pk
    )
    assert [e.payload["to_state"] for e in changed if e.payload.get("action") == "suspend"] == [
        "suspended"
    ]


def test_usage_counts_what_the_network_contract_lets_carry_bytes():
    """The rollup keeps its own copy of the types that report bytes (usage sits
    below the network adapter and does not import it); the two must agree."""
    from network import contract
    from usage import rollup

    assert rollup.USAGE_TYPES == contract.USAGE_TYPES
    assert rollup.ACCEPTED == contract.ACCEPTED
