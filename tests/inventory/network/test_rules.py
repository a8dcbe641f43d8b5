"""What network events do (network/batch.py), checked in the database: state
moves, last activity, addresses, history, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import (
    AllocationKind,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
    State,
)
from network import batch as network
from portal.models import ActorKind
from tests.factories import EndpointFactory, GroupFactory, imei_for, imsi_for

T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
BAD_CHECK_DIGIT_IMEI = imei_for(7)[:14] + str((int(imei_for(7)[14]) + 1) % 10)
_ids = iter(range(1, 10**9))


def at(seconds: float = 0) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def ev(kind: str, endpoint_or_imsi, seconds: float = 0, **extra) -> dict:
    imsi = (
        endpoint_or_imsi
        if isinstance(endpoint_or_imsi, str)
        else endpoint_or_imsi.imsis.first().imsi
    )
    event = {"id": f"e-{next(_ids)}", "type": kind, "imsi": imsi, "at": at(seconds)}
    event.update(extra)
    return event


def apply(*events: dict) -> list[dict]:
    return [result.as_json() for result in network.apply_events(events=list(events))]


def endpoint_in(group, state=State.IDLE, **kwargs):
    return EndpointFactory(account=group.account, state=state, primary_group=group, **kwargs)


@pytest.fixture
def idle(group):
    return endpoint_in(group)


def history_of(endpoint) -> list[History]:
    return list(History.objects.filter(endpoint=endpoint).order_by("at", "id"))


# --- state moves --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "kind", "end"),
    [
        (State.DETACHED, "attach", State.IDLE),
        (State.IDLE, "session_start", State.ACTIVE),
        (State.ACTIVE, "session_end", State.IDLE),
        (State.ACTIVE, "detach", State.DETACHED),
        (State.IDLE, "detach", State.DETACHED),
        (State.DETACHED, "session_start", State.ACTIVE),
    ],
)
def test_in_service_endpoint_moves_and_history_says_network(group, start, kind, end):
    endpoint = endpoint_in(group, state=start)
    [result] = apply(ev(kind, endpoint, 5))

    assert result["status"] == "accepted"
    assert result["state"] == end
    endpoint.refresh_from_db()
    assert endpoint.state == end
    assert endpoint.last_activity == T0 + timedelta(seconds=5)
    assert endpoint.state_changed_at == T0 + timedelta(seconds=5)
    [row] = history_of(endpoint)
    assert (row.actor_kind, row.actor_label, row.action) == (ActorKind.NETWORK, "network", kind)
    assert (row.from_state, row.to_state) == (start, end)
    assert row.at == T0 + timedelta(seconds=5)
    assert row.changes["event"] == result["id"]


@pytest.mark.django_db
def test_event_that_keeps_the_state_moves_last_activity_without_history(group):
    endpoint = endpoint_in(group, state=State.IDLE)
    [result] = apply(ev("attach", endpoint, 30))

    assert (result["status"], result["state"]) == ("accepted", "idle")
    endpoint.refresh_from_db()
    assert endpoint.last_activity == T0 + timedelta(seconds=30)
    assert history_of(endpoint) == []


@pytest.mark.django_db
@pytest.mark.parametrize("state", [State.PENDING, State.SUSPENDED, State.TERMINATED])
@pytest.mark.parametrize("kind", ["attach", "detach", "session_end"])
def test_not_in_service_endpoint_only_gets_last_activity(account, group, state, kind):
    extra = {"terminated_at": T0} if state == State.TERMINATED else {}
    group_or_none = None if state == State.PENDING else group
    endpoint = EndpointFactory(account=account, state=state, primary_group=group_or_none, **extra)
    [result] = apply(ev(kind, endpoint, 1))

    assert (result["status"], result["state"]) == ("accepted", state)
    endpoint.refresh_from_db()
    assert endpoint.state == state
    assert endpoint.last_activity == T0 + timedelta(seconds=1)
    assert history_of(endpoint) == []


# --- session start: addresses ---------------------------------------------------


@pytest.mark.django_db
def test_first_session_allocates_an_address_and_the_next_reuses_it(idle, group):
    [first] = apply(ev("session_start", idle, 1))

    assert first["status"] == "accepted"
    allocation = IPAllocation.objects.get(endpoint=idle, group=group)
    assert allocation.kind == AllocationKind.AUTO
    assert first["ip"] == allocation.address
    assert allocation.address.startswith("100.64.")
    [row] = history_of(idle)
    assert row.changes["ip"] == [None, allocation.address]
    assert row.changes["group"] == group.name

    [end, again] = apply(ev("session_end", idle, 2), ev("session_start", idle, 3))
    assert again["ip"] == first["ip"]
    assert IPAllocation.objects.filter(endpoint=idle).count() == 1
    stored = NetworkEvent.objects.get(event_id=again["id"])
    assert (stored.ip, stored.group_id, stored.status) == (first["ip"], group.pk, "accepted")


@pytest.mark.django_db
def test_static_address_is_used_and_nothing_is_allocated(idle, group):
    IPAllocation.objects.create(
        account=idle.account,
        endpoint=idle,
        group=group,
        vslice=group.vslice,
        address="100.64.9.9",
        kind=AllocationKind.STATIC,
    )
    [result] = apply(ev("session_start", idle, 1))

    assert (result["status"], result["ip"]) == ("accepted", "100.64.9.9")
    assert list(IPAllocation.objects.filter(endpoint=idle).values_list("kind", flat=True)) == [
        "static"
    ]


@pytest.mark.django_db
def test_apn_picks_the_secondary_group_and_its_vslice(account, idle, group):
    second = GroupFactory(account=account, apn="telematics.vantiq", vslice__subnet="10.20.0.0/24")
    SecondaryMembership.objects.create(account=account, endpoint=idle, group=second)

    [by_apn, primary] = apply(
        ev("session_start", idle, 1, apn="Telematics.Vantiq"),
        ev("session_start", idle, 2),
    )

    assert by_apn["status"] == "accepted" and by_apn["ip"].startswith("10.20.0.")
    assert primary["status"] == "accepted" and primary["ip"].startswith("100.64.")
    groups = dict(IPAllocation.objects.filter(endpoint=idle).values_list("group_id", "address"))
    assert groups == {second.pk: by_apn["ip"], group.pk: primary["ip"]}
    assert NetworkEvent.objects.get(event_id=by_apn["id"]).group_id == second.pk


@pytest.mark.django_db
def test_primary_apn_given_explicitly_matches_the_primary_group(idle, group):
    [result] = apply(ev("session_start", idle, 1, apn=group.apn))
    assert result["status"] == "accepted"
    assert IPAllocation.objects.get(endpoint=idle).group_id == group.pk


# --- session start: refusals ----------------------------------------------------


def assert_rejected(result: dict, endpoint, reason: str, state: str) -> None:
    assert result["status"] == "rejected"
    assert result["reason"] == reason
    assert result.get("state") == state
    assert "ip" not in result
    endpoint.refresh_from_db()
    assert endpoint.state == state
    assert endpoint.last_activity is None  # a refusal is not activity
    [row] = history_of(endpoint)
    assert (row.action, row.reason, row.actor_kind) == ("session_rejected", reason, "network")
    assert not IPAllocation.objects.filter(endpoint=endpoint).exists()
    stored = NetworkEvent.objects.get(event_id=result["id"])
    assert (stored.status, stored.reason, stored.endpoint_id) == ("rejected", reason, endpoint.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("state", [State.PENDING, State.SUSPENDED, State.TERMINATED])
def test_session_start_refused_for_endpoints_not_in_service(account, group, state):
    extra = {"terminated_at": T0} if state == State.TERMINATED else {}
    group_or_none = None if state == State.PENDING else group
    endpoint = EndpointFactory(account=account, state=state, primary_group=group_or_none, **extra)
    [result] = apply(ev("session_start", endpoint, 1))
    assert_rejected(result, endpoint, str(state), state)


@pytest.mark.django_db
def test_session_start_refused_for_an_apn_not_in_the_endpoints_groups(account, idle):
    GroupFactory(account=account, apn="other.vantiq")  # exists, but idle is not a member
    [result] = apply(ev("session_start", idle, 1, apn="other.vantiq"))
    assert_rejected(result, idle, "unknown_apn", State.IDLE)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("presented", "accepted"),
    [
        (imei_for(7), True),
        (imei_for(7)[:14] + "42", True),  # IMEISV of the same device: first 14 digits count
        (imei_for(8), False),
        (None, False),  # lock on and no IMEI presented
    ],
)
def test_imei_lock_compares_the_first_14_digits(group, presented, accepted):
    endpoint = endpoint_in(group, imei_lock_enabled=True, imei=imei_for(7))
    extra = {"imei": presented} if presented else {}
    [result] = apply(ev("session_start", endpoint, 1, **extra))
    if accepted:
        assert result["status"] == "accepted" and result["ip"]
    else:
        assert_rejected(result, endpoint, "imei_mismatch", State.IDLE)


@pytest.mark.django_db
def test_unlocked_endpoint_accepts_any_imei(idle):
    [result] = apply(ev("session_start", idle, 1, imei=imei_for(99)))
    assert result["status"] == "accepted"


@pytest.mark.django_db
def test_unknown_imsi_is_rejected_and_only_the_event_records_it():
    [result] = apply(ev("session_start", imsi_for(999_999), 1))
    assert result == {"id": result["id"], "status": "rejected", "reason": "unknown_imsi"}
    stored = NetworkEvent.objects.get(event_id=result["id"])
    assert (stored.account_id, stored.endpoint_id, stored.reason) == (None, None, "unknown_imsi")
    assert not History.objects.exists()


@pytest.mark.django_db
def test_subnet_full_is_refused_and_others_in_the_batch_still_get_addresses(account):
    tiny = GroupFactory(account=account, vslice__subnet="10.30.0.0/30")  # two hosts
    endpoints = [endpoint_in(tiny) for _ in range(3)]
    results = apply(*(ev("session_start", endpoint, 1) for endpoint in endpoints))

    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected"]
    assert {r["ip"] for r in results[:2]} == {"10.30.0.1", "10.30.0.2"}
    assert_rejected(results[2], endpoints[2], "subnet_full", State.IDLE)
    states = {e.pk: e.state for e in type(endpoints[0]).objects.filter(account=account)}
    assert [states[e.pk] for e in endpoints] == ["active", "active", "idle"]


@pytest.mark.django_db
def test_endpoint_with_a_refused_first_session_can_still_detach_in_the_same_batch(account):
    tiny = GroupFactory(account=account, vslice__subnet="10.31.0.0/30")
    holders = [endpoint_in(tiny) for _ in range(2)]
    apply(*(ev("session_start", holder, 1) for holder in holders))
    late = endpoint_in(tiny)

    refused, detached = apply(ev("session_start", late, 2), ev("detach", late, 3))

    assert (refused["status"], refused["reason"]) == ("rejected", "subnet_full")
    assert (detached["status"], detached["state"]) == ("accepted", "detached")
    late.refresh_from_db()
    assert late.state == State.DETACHED


# --- ordering, stale and duplicates ---------------------------------------------


@pytest.mark.django_db
def test_events_of_one_endpoint_apply_in_time_order_not_request_order(idle):
    results = apply(
        ev("detach", idle, 30),
        ev("session_start", idle, 10),
        ev("session_end", idle, 20),
    )
    assert [r["status"] for r in results] == ["accepted"] * 3
    assert [r["state"] for r in results] == ["detached", "active", "idle"]
    idle.refresh_from_db()
    assert idle.state == State.DETACHED
    assert idle.last_activity == T0 + timedelta(seconds=30)
    assert [(h.from_state, h.to_state) for h in history_of(idle)] == [
        ("idle", "active"),
        ("active", "idle"),
        ("idle", "detached"),
    ]


@pytest.mark.django_db
def test_ties_in_time_follow_request_order(idle):
    results = apply(ev("session_start", idle, 5), ev("detach", idle, 5))
    assert [r["state"] for r in results] == ["active", "detached"]


@pytest.mark.django_db
def test_an_older_event_in_a_later_batch_is_stale_and_changes_nothing(idle):
    apply(ev("session_start", idle, 100))
    idle.refresh_from_db()
    before = (idle.state, idle.last_activity, idle.state_changed_at)

    [result] = apply(ev("detach", idle, 50))

    assert result["status"] == "stale"
    assert result["reason"] == "older_than_last_activity"
    assert result["state"] == "active"
    idle.refresh_from_db()
    assert (idle.state, idle.last_activity, idle.state_changed_at) == before
    assert len(history_of(idle)) == 1
    assert NetworkEvent.objects.get(event_id=result["id"]).status == "stale"


@pytest.mark.django_db
def test_an_event_at_the_same_time_as_the_last_activity_is_not_stale(idle):
    apply(ev("attach", idle, 10))
    [result] = apply(ev("detach", idle, 10))
    assert (result["status"], result["state"]) == ("accepted", "detached")


@pytest.mark.django_db
def test_last_activity_never_moves_back_across_out_of_order_batches(idle):
    apply(ev("attach", idle, 60), ev("session_start", idle, 61))
    results = apply(ev("session_end", idle, 30), ev("detach", idle, 62))
    assert [r["status"] for r in results] == ["stale", "accepted"]
    idle.refresh_from_db()
    assert idle.last_activity == T0 + timedelta(seconds=62)
    assert idle.state == State.DETACHED


@pytest.mark.django_db
def test_a_repeated_id_in_a_later_batch_is_a_duplicate_and_changes_nothing(idle):
    first = ev("session_start", idle, 1)
    apply(first)
    idle.refresh_from_db()
    before = idle.last_activity

    [result] = apply({**first, "type": "detach", "at": at(500)})

    assert result == {
        "id": first["id"],
        "status": "duplicate",
        "reason": "already_received",
        "state": "active",
    }
    idle.refresh_from_db()
    assert (idle.state, idle.last_activity) == (State.ACTIVE, before)
    assert NetworkEvent.objects.filter(event_id=first["id"]).count() == 1
    assert NetworkEvent.objects.get(event_id=first["id"]).type == "session_start"


@pytest.mark.django_db
def test_a_repeated_id_in_the_same_batch_is_a_duplicate(idle):
    first = ev("attach", idle, 1)
    results = apply(first, {**first, "type": "detach", "at": at(2)})
    assert [r["status"] for r in results] == ["accepted", "duplicate"]
    assert results[1]["reason"] == "duplicate_in_batch"
    idle.refresh_from_db()
    assert idle.state == State.IDLE
    assert NetworkEvent.objects.count() == 1


# --- invalid events ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing_id"),
        ({"id": ""}, "missing_id"),
        ({"id": "x" * 101}, "bad_id"),
        ({"id": 17}, "bad_id"),
        ({"id": "nul\x00byte"}, "bad_id"),
        ({"id": "half \ud800 pair"}, "bad_id"),
        ({"type": "reboot"}, "bad_type"),
        ({"type": None}, "bad_type"),
        ({"imsi": "23415abc"}, "bad_imsi"),
        ({"imsi": "1234"}, "bad_imsi"),
        ({"imsi": 234150000000001}, "bad_imsi"),
        ({"imei": "35000000000000"}, "bad_imei"),  # 14 digits
        ({"imei": BAD_CHECK_DIGIT_IMEI}, "bad_imei"),
        ({"imei": 350000000000001}, "bad_imei"),
        ({"apn": "a" * 101}, "bad_apn"),
        ({"apn": 5}, "bad_apn"),
        ({"apn": "internet\x00"}, "bad_apn"),
        ({"at": "2026-03-01T12:00:00"}, "bad_time"),  # no zone
        ({"at": "2026-03-01"}, "bad_time"),
        ({"at": "yesterday"}, "bad_time"),
        ({"at": 1772366400}, "bad_time"),
        ({"at": None}, "bad_time"),
        ({"at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "bad_time"),
        ({"at": (datetime.now(UTC) - timedelta(days=31)).isoformat()}, "bad_time"),
        ({"at": "0001-01-01T00:00:00+01:00"}, "bad_time"),
        ({"at": "9999-12-31T23:59:59-01:00"}, "bad_time"),
    ],
)
def test_invalid_event_is_answered_and_the_rest_of_the_batch_applies(idle, change, reason):
    bad = {**ev("detach", idle, 1), **change}
    good = ev("session_start", idle, 2)
    results = apply(bad, good)

    assert results[0]["status"] == "invalid"
    assert results[0]["reason"] == reason
    assert results[1]["status"] == "accepted"
    idle.refresh_from_db()
    assert idle.state == State.ACTIVE
    assert list(NetworkEvent.objects.values_list("event_id", flat=True)) == [good["id"]]


@pytest.mark.django_db
def test_an_event_that_is_not_an_object_is_invalid():
    [result] = apply("attach")  # type: ignore[arg-type]
    assert result == {"id": None, "status": "invalid", "reason": "not_an_object"}


@pytest.mark.django_db
def test_zone_offsets_are_understood(idle):
    local = T0.astimezone(timezone(timedelta(hours=2)))
    [result] = apply(ev("attach", idle, 0, at=local.isoformat()))
    assert "+02:00" in local.isoformat()
    assert result["status"] == "accepted"
    idle.refresh_from_db()
    assert idle.last_activity == T0


# --- set-based ------------------------------------------------------------------


def _batch(group, size: int, offset: int) -> list[dict]:
    events = []
    for n in range(size):
        endpoint = endpoint_in(group)
        events += [
            ev("session_start", endpoint, offset + n),
            ev("session_end", endpoint, offset + n + 1),
            ev("detach", endpoint, offset + n + 2),
        ]
    return events


@pytest.mark.django_db
def test_a_batch_runs_the_same_queries_whatever_its_size(group):
    small, large = _batch(group, 1, 0), _batch(group, 60, 100)

    with CaptureQueriesContext(connection) as one:
        network.apply_events(events=small)
    with CaptureQueriesContext(connection) as many:
        results = network.apply_events(events=large)

    # lock, load, snapshots, stored ids, the allocations, update, history, events,
    # connectivity.
    assert len(many.captured_queries) == len(one.captured_queries) <= 18
    assert {r.status for r in results} == {"accepted"}
    assert History.objects.count() == 3 * 61
    assert IPAllocation.objects.filter(group=group).count() == 61
