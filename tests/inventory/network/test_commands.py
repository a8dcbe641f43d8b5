"""The network commands: create_network_token, purge_network_events and the
simulator (against a live portal)."""

from __future__ import annotations

import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F, Sum
from django.utils import timezone

from demo import simulator
from inventory.models import (
    EventType,
    History,
    NetworkEvent,
    NetworkToken,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from network import batch as network
from network.tokens import create_token, hash_token
from tests.factories import EndpointFactory, GroupFactory, imei_for
from usage.models import EndpointDailyUsage


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- create_network_token -------------------------------------------------------


@pytest.mark.django_db
def test_create_network_token_prints_the_token_last_and_stores_only_its_hash():
    output = run("create_network_token", "core-eu-1")

    token = output.strip().splitlines()[-1]
    record = NetworkToken.objects.get(name="core-eu-1")
    assert record.enabled
    assert record.token_hash == hash_token(token)
    assert token not in record.token_hash
    assert len(token) >= 32


@pytest.mark.django_db
def test_create_network_token_refuses_a_name_in_use():
    create_token("core-eu-1")
    with pytest.raises(CommandError, match="exists already"):
        run("create_network_token", "core-eu-1")
    assert NetworkToken.objects.count() == 1


@pytest.mark.django_db
def test_disable_switches_a_token_off():
    create_token("core-eu-1")
    output = run("create_network_token", "core-eu-1", "--disable")
    assert "disabled" in output
    assert not NetworkToken.objects.get().enabled
    with pytest.raises(CommandError, match="no token named"):
        run("create_network_token", "nope", "--disable")


# --- purge_network_events ---------------------------------------------------------


def aged(endpoint, days: float, n: int) -> NetworkEvent:
    return NetworkEvent.objects.create(
        event_id=f"aged-{n}",
        account=endpoint.account,
        endpoint=endpoint,
        type=EventType.ATTACH,
        imsi=endpoint.imsis.first().imsi,
        at=timezone.now() - timedelta(days=days),
        received_at=timezone.now() - timedelta(days=days),
        status="accepted",
    )


@pytest.mark.django_db
def test_purge_deletes_events_older_than_the_limit_in_batches(account):
    endpoint = EndpointFactory(account=account)
    old = [aged(endpoint, 31 + n, n) for n in range(5)]
    kept = [aged(endpoint, 29, 10), aged(endpoint, 0, 11)]
    SessionTeardown.objects.create(
        account=account,
        endpoint=endpoint,
        imsi="234150000000001",
        reason="suspended",
        at=timezone.now() - timedelta(days=40),
    )
    recent = SessionTeardown.objects.create(
        account=account, endpoint=endpoint, imsi="234150000000001", reason="suspended"
    )

    output = run("purge_network_events", "--batch-size", "2")

    assert "Deleted 5 network events older than 30 days." in output
    assert "Deleted 1 session teardowns" in output
    assert set(NetworkEvent.objects.values_list("pk", flat=True)) == {e.pk for e in kept}
    assert list(SessionTeardown.objects.values_list("pk", flat=True)) == [recent.pk]
    assert len(old) == 5


@pytest.mark.django_db
def test_purge_dry_run_counts_and_deletes_nothing(account):
    endpoint = EndpointFactory(account=account)
    aged(endpoint, 10, 1)
    aged(endpoint, 3, 2)

    output = run("purge_network_events", "--days", "7", "--dry-run")

    assert "Would delete 1 network events older than 7 days." in output
    assert NetworkEvent.objects.count() == 2


@pytest.mark.django_db
def test_purge_refuses_a_nonsense_day_count():
    with pytest.raises(CommandError, match="--days"):
        run("purge_network_events", "--days", "0")


# --- the simulator ----------------------------------------------------------------


@pytest.fixture
def fleet(account, other_account, group):
    second = GroupFactory(account=account, apn="telematics.vantiq")
    locked = EndpointFactory(
        account=account,
        state=State.DETACHED,
        primary_group=group,
        imei_lock_enabled=True,
        imei=imei_for(5),
    )
    SecondaryMembership.objects.create(account=account, endpoint=locked, group=second)
    idle = [
        EndpointFactory(account=account, state=State.IDLE, primary_group=group) for _ in range(5)
    ]
    EndpointFactory(account=account, state=State.PENDING)
    EndpointFactory(account=account, state=State.SUSPENDED, primary_group=group)
    foreign_group = GroupFactory(account=other_account)
    EndpointFactory(account=other_account, state=State.IDLE, primary_group=foreign_group)
    return [locked, *idle]


@pytest.mark.django_db
def test_devices_are_the_accounts_in_service_endpoints_with_their_apns(fleet, group):
    devices = simulator.load_devices(account_slug="vantiq", limit=100)

    assert {d.imsi for d in devices} == {e.imsis.first().imsi for e in fleet}
    locked = next(d for d in devices if d.locked)
    assert locked.imei == imei_for(5)
    assert locked.apns == [group.apn, "telematics.vantiq"]
    assert locked.state == State.DETACHED
    assert len(simulator.load_devices(account_slug="vantiq", limit=2)) == 2


@pytest.mark.django_db
def test_simulated_events_are_valid_and_follow_the_answers(fleet):
    devices = simulator.load_devices(account_slug="vantiq", limit=100)
    traffic = simulator.Traffic(devices, run_id="t", rng=random.Random(1))
    for _ in range(20):
        events = traffic.next_events(4)
        assert all(isinstance(network.parse_event(e, 0), network.Event) for e in events)
        results = [r.as_json() for r in network.apply_events(events=events)]
        assert {r["status"] for r in results} <= {"accepted", "rejected"}
        traffic.learn(results)
    by_imsi = {e.imsis.first().imsi: e for e in fleet}
    for device in devices:
        by_imsi[device.imsi].refresh_from_db()
        assert device.state == by_imsi[device.imsi].state
    assert History.objects.filter(actor_kind="network").exists()


@pytest.mark.django_db
def test_simulated_sessions_report_usage_that_is_counted(fleet):
    devices = simulator.load_devices(account_slug="vantiq", limit=100)
    traffic = simulator.Traffic(devices, run_id="u", rng=random.Random(2))
    reported = 0
    for _ in range(30):
        events = traffic.next_events(6)
        results = [r.as_json() for r in network.apply_events(events=events)]
        accepted = {r["id"] for r in results if r["status"] == "accepted"}
        reported += sum(
            e.get("bytes_up", 0) + e.get("bytes_down", 0) for e in events if e["id"] in accepted
        )
        traffic.learn(results)
    used = EndpointDailyUsage.objects.aggregate(n=Sum(F("bytes_up") + F("bytes_down")))["n"]
    assert reported > 0
    assert used == reported


@pytest.mark.django_db(transaction=True)
def test_simulate_network_drives_a_live_portal(live_server, fleet):
    _, token = create_token("simulator")
    out = StringIO()

    call_command(
        "simulate_network",
        "--url",
        live_server.url,
        # One token in 64 starts with "-": joined, argparse cannot take it for an option.
        f"--token={token}",
        "--rate",
        "100",
        "--duration",
        "2.5",
        "--batch",
        "10",
        stdout=out,
    )

    output = out.getvalue()
    assert "Simulating 6 endpoints of vantiq (1 IMEI-locked)" in output
    assert "events/s" in output and "accepted" in output
    assert "Total:" in output
    stored = NetworkEvent.objects.count()
    assert stored >= 100
    assert NetworkEvent.objects.filter(status="accepted").exists()
    states = {e.state for e in type(fleet[0]).objects.filter(pk__in=[e.pk for e in fleet])}
    assert states <= {State.ACTIVE, State.IDLE, State.DETACHED}
    assert (
        type(fleet[0])
        .objects.filter(pk__in=[e.pk for e in fleet], last_activity__isnull=False)
        .count()
        == 6
    )


@pytest.mark.django_db(transaction=True)
def test_simulate_network_stops_on_a_refused_token(live_server, fleet):
    err = StringIO()
    with pytest.raises(CommandError, match="No event"):
        call_command(
            "simulate_network",
            "--url",
            live_server.url,
            "--token",
            "wrong",
            "--duration",
            "5",
            stdout=StringIO(),
            stderr=err,
        )
    assert "401" in err.getvalue()
