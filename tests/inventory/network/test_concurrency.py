"""Network events from several clients at the same moment, with real threads and
real transactions: addresses stay distinct, a replay is applied once, and
batches touching the same endpoints in opposite orders do not deadlock."""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from inventory.models import History, IPAllocation, NetworkEvent, State
from network import batch as network
from tests.factories import EndpointFactory, GroupFactory, imsi_for

pytestmark = pytest.mark.django_db(transaction=True)

T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


def in_parallel(calls: list[Callable[[], object]]) -> list[object]:
    """Run ``calls`` in threads that start together; each closes its connection."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            connection.ensure_connection()  # so that the calls, not the connects, race
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def session_start(event_id: str, imsi: str, seconds: int = 0) -> dict:
    return {
        "id": event_id,
        "type": "session_start",
        "imsi": imsi,
        "at": (T0 + timedelta(seconds=seconds)).isoformat(),
    }


def post(*events: dict) -> Callable[[], list[dict]]:
    return lambda: [r.as_json() for r in network.apply_events(events=list(events))]


def test_parallel_first_sessions_in_a_26_get_distinct_addresses_until_it_is_full(account):
    group = GroupFactory(account=account, vslice__subnet="10.40.0.0/26")  # 62 hosts
    endpoints = [
        EndpointFactory(account=account, state=State.IDLE, primary_group=group) for _ in range(70)
    ]
    imsis = [endpoint.imsis.first().imsi for endpoint in endpoints]

    first = in_parallel([post(session_start(f"first-{n}", imsis[n])) for n in range(50)])

    assert [result[0]["status"] for result in first] == ["accepted"] * 50
    addresses = [result[0]["ip"] for result in first]
    assert len(set(addresses)) == 50
    subnet = ipaddress.IPv4Network("10.40.0.0/26")
    assert all(ipaddress.IPv4Address(a) in list(subnet.hosts()) for a in addresses)

    rest = in_parallel([post(session_start(f"rest-{n}", imsis[n])) for n in range(50, 70)])

    statuses = Counter((r[0]["status"], r[0].get("reason", "")) for r in rest)
    assert statuses == {("accepted", ""): 12, ("rejected", "subnet_full"): 8}
    stored = list(IPAllocation.objects.filter(group=group).values_list("address", flat=True))
    assert len(stored) == len(set(stored)) == 62
    assert set(addresses) | {r[0]["ip"] for r in rest if r[0]["status"] == "accepted"} == set(
        stored
    )
    refused = [endpoints[50 + i] for i, r in enumerate(rest) if r[0]["status"] == "rejected"]
    assert History.objects.filter(
        endpoint__in=refused, action="session_rejected", reason="subnet_full"
    ).count() == len(refused)


@pytest.mark.parametrize("known_imsi", [True, False])
def test_the_same_event_posted_by_two_clients_at_once_is_applied_once(account, group, known_imsi):
    for round_ in range(5):
        endpoint = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
        imsi = endpoint.imsis.first().imsi if known_imsi else imsi_for(900_000 + round_)
        event = session_start(f"twice-{known_imsi}-{round_}", imsi)

        results = in_parallel([post(event), post(event)])

        statuses = sorted(result[0]["status"] for result in results)
        expected = "accepted" if known_imsi else "rejected"
        assert statuses == sorted([expected, "duplicate"])
        assert NetworkEvent.objects.filter(event_id=event["id"]).count() == 1
        if known_imsi:
            assert History.objects.filter(endpoint=endpoint).count() == 1
            assert IPAllocation.objects.filter(endpoint=endpoint).count() == 1
            endpoint.refresh_from_db()
            assert endpoint.state == State.ACTIVE


def test_batches_over_the_same_endpoints_in_opposite_orders_both_complete(account, group):
    endpoints = [
        EndpointFactory(account=account, state=State.IDLE, primary_group=group) for _ in range(30)
    ]
    imsis = [endpoint.imsis.first().imsi for endpoint in endpoints]
    forward = [
        {"id": f"f-{n}", "type": "attach", "imsi": imsi, "at": T0.isoformat()}
        for n, imsi in enumerate(imsis)
    ]
    backward = [
        session_start(f"b-{n}", imsi, seconds=1) for n, imsi in reversed(list(enumerate(imsis)))
    ]

    results = in_parallel([post(*forward), post(*backward)])

    # The later session start always applies; the earlier attach applies first
    # or, when it comes second, is stale.
    assert {r["status"] for r in results[1]} == {"accepted"}
    assert {r["status"] for r in results[0]} <= {"accepted", "stale"}
    final = set(
        type(endpoints[0]).objects.filter(account=account).values_list("state", "last_activity")
    )
    assert final == {(State.ACTIVE, T0 + timedelta(seconds=1))}
    assert NetworkEvent.objects.count() == 60
