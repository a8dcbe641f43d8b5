"""manage.py seed_demo: the demo accounts, logins and a fleet that looks real."""

import ipaddress
import threading
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from demo import seed as demo_data
from inventory.identifiers import clean_iccid, clean_imsi
from inventory.models import (
    IMSI,
    IN_SERVICE_STATES,
    AddressBlock,
    Endpoint,
    EventStatus,
    EventType,
    Group,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
    State,
    VSlice,
)
from network.contract import MAX_AGE as NETWORK_EVENT_AGE
from portal.models import Account, Member
from usage.models import AccountDailyUsage, EndpointDailyUsage, EndpointMonthlyUsage

pytestmark = pytest.mark.django_db

#: Seconds a seed of a few chunks may take before the test calls it stuck (it
#: takes about ten on two busy cores).
SEED_DEADLINE = 180


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_small_seed_creates_accounts_users_and_roles():
    output = seed(endpoints=200, password="demo-pass-1")

    assert dict(Account.objects.values_list("slug", "name")) == {
        "vantiq": "Vantiq Connect",
        "northwind": "Northwind Logistics",
    }
    roles = {
        (m.user.username, m.account.slug): m.role
        for m in Member.objects.select_related("user", "account")
    }
    for slug in ("vantiq", "northwind"):
        assert roles[(f"{slug}-admin", slug)] == "admin"
        assert roles[(f"{slug}-operator", slug)] == "operator"
        assert roles[(f"{slug}-viewer", slug)] == "viewer"
        assert roles[("multi", slug)] == "operator"
    users = get_user_model().objects
    support = users.get(username="support")
    assert support.is_staff and support.is_superuser
    assert not Member.objects.filter(user=support).exists()
    assert all(user.check_password("demo-pass-1") for user in users.all())
    assert users.count() == 8

    assert "vantiq-operator" in output and "northwind-viewer" in output
    assert "password for all: demo-pass-1" in output


def test_small_seed_networks_are_per_account_with_16_subnets():
    seed(endpoints=200)
    vantiq = Account.objects.get(slug="vantiq")
    subnets = dict(VSlice.objects.filter(account=vantiq).values_list("name", "subnet"))
    assert subnets["vantiq-eu"] == "100.64.0.0/16"
    assert subnets["vantiq-us"] == "100.65.0.0/16"
    assert all(subnet.endswith("/16") for subnet in VSlice.objects.values_list("subnet", flat=True))
    eu = Group.objects.get(name="vantiq-connect-eu")
    assert (eu.account, eu.apn) == (vantiq, "vantiq.eu")
    assert Group.objects.filter(account__slug="northwind").count() >= 3
    # A group never uses another account's VSlice.
    assert not Group.objects.exclude(vslice__account=F("account")).exists()


def test_small_seed_has_a_valid_realistic_fleet():
    seed(endpoints=200)
    now = timezone.now()

    endpoints = Endpoint.objects.all()
    assert endpoints.count() == 200
    per_account = dict(endpoints.values_list("account__slug").annotate(n=Count("id")))
    assert per_account == {"vantiq": 120, "northwind": 80}
    states = dict(endpoints.values_list("state").annotate(n=Count("id")))
    assert set(states) == set(State.values)
    assert 0.40 <= states[State.ACTIVE] / 200 <= 0.70
    for endpoint in endpoints:
        assert clean_iccid(endpoint.iccid) == endpoint.iccid
        assert len(endpoint.iccid) == 19
        assert len(endpoint.tags) <= 3
    assert not endpoints.filter(state=State.PENDING, primary_group__isnull=False).exists()
    assert not endpoints.filter(state=State.PENDING, last_activity__isnull=False).exists()
    in_service = endpoints.filter(state__in=IN_SERVICE_STATES)
    assert not in_service.filter(last_activity__isnull=True).exists()
    assert not in_service.filter(last_activity__lt=now - timedelta(days=30, minutes=1)).exists()
    terminated = endpoints.filter(state=State.TERMINATED)
    assert terminated.filter(terminated_at__lt=now - timedelta(days=90)).exists()
    assert terminated.filter(terminated_at__gt=now - timedelta(days=90)).exists()
    assert endpoints.exclude(name="").count() > 80
    assert endpoints.exclude(reference="").count() > 50

    imsi_counts = dict(endpoints.annotate(n=Count("imsis")).values_list("id", "n"))
    assert set(imsi_counts.values()) <= {1, 2} and 2 in imsi_counts.values()
    assert all(clean_imsi(imsi) == imsi for imsi in IMSI.objects.values_list("imsi", flat=True))
    assert not IMSI.objects.exclude(account_id=F("endpoint__account_id")).exists()

    # Every endpoint was created; every non-pending one has a state change too.
    assert History.objects.filter(action="created").count() == 200
    changes = History.objects.exclude(action__in=["created", "session_rejected"])
    changed = changes.values("endpoint").distinct().count()
    assert changed == endpoints.exclude(state=State.PENDING).count()
    assert SecondaryMembership.objects.count() >= 5


def test_small_seed_addresses_are_sequential_and_inside_the_subnet():
    seed(endpoints=200)
    allocations = IPAllocation.objects.select_related("vslice", "group", "endpoint")
    assert allocations.exists()
    for allocation in allocations:
        network = ipaddress.IPv4Network(allocation.vslice.subnet)
        address = ipaddress.IPv4Address(allocation.address)
        assert address in network and address != network.network_address
        assert allocation.group.vslice_id == allocation.vslice_id
        if allocation.kind == "auto":
            assert allocation.endpoint.state != State.TERMINATED
    # Every in-service endpoint has its address in its primary group.
    in_service = Endpoint.objects.filter(state__in=IN_SERVICE_STATES)
    with_primary_ip = in_service.filter(ip_allocations__group=F("primary_group"))
    assert with_primary_ip.count() == in_service.count()
    assert IPAllocation.objects.filter(kind="static").count() <= 20
    for vslice in VSlice.objects.all():
        network = ipaddress.IPv4Network(vslice.subnet)
        addresses = sorted(
            int(ipaddress.IPv4Address(a)) - int(network.network_address)
            for a in vslice.ip_allocations.values_list("address", flat=True)
        )
        assert addresses == list(range(1, len(addresses) + 1))  # packed from the start
        assert vslice.alloc_cursor == len(addresses) + 1


def test_if_empty_creates_nothing_when_the_demo_exists():
    seed(endpoints=50)
    before = (Endpoint.objects.count(), History.objects.count(), Account.objects.count())

    output = seed(endpoints=50, if_empty=True)

    assert (Endpoint.objects.count(), History.objects.count(), Account.objects.count()) == before
    assert "nothing created" in output
    assert "vantiq-admin" in output and "support" in output


def test_if_empty_seeds_an_empty_database():
    output = seed(endpoints=30, if_empty=True)
    assert Endpoint.objects.count() == 30
    assert "Created 30 endpoints" in output


def test_a_second_seed_adds_endpoints_without_collisions():
    seed(endpoints=100)
    seed(endpoints=100)
    assert Endpoint.objects.count() == 200
    assert Account.objects.count() == 2
    assert VSlice.objects.filter(account__slug="vantiq").count() == 4
    cursor = VSlice.objects.get(name="vantiq-eu").alloc_cursor
    used = IPAllocation.objects.filter(vslice__name="vantiq-eu").count()
    assert cursor == used + 1


@contextmanager
def fails_instead_of_hanging(seconds: float):
    """End every other connection to the test database if the block has not
    finished after ``seconds``, so that a seed stuck on a lock fails the test
    instead of hanging the run."""
    params = {
        key: value
        for key, value in connection.get_connection_params().items()
        if key in ("dbname", "user", "password", "host", "port")
    }
    done = threading.Event()
    fired = []

    def watch() -> None:
        if done.wait(seconds):
            return
        fired.append(True)
        with psycopg.connect(**params, autocommit=True) as watcher:
            watcher.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        done.set()
        watchdog.join()
        if fired:
            connection.close()  # ended by the watchdog; the teardown opens a new one
            pytest.fail(f"still running after {seconds} s: stuck on a lock")


@pytest.mark.django_db(transaction=True)
def test_a_seed_of_several_chunks_finishes_complete_with_exact_block_counts():
    count = 2 * demo_data.CHUNK + 5_000
    with fails_instead_of_hanging(SEED_DEADLINE):
        output = seed(endpoints=count)

    assert f"Created {count:,} endpoints" in output
    assert Endpoint.objects.count() == count
    assert History.objects.filter(action="created").count() == count
    assert IMSI.objects.values("endpoint").distinct().count() == count
    used = IPAllocation.objects.filter(vslice__name="vantiq-eu").count()
    assert VSlice.objects.get(name="vantiq-eu").alloc_cursor == used + 1
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT vslice_id, (address - '0.0.0.0'::inet) / 256, count(*)
              FROM inventory_ipallocation GROUP BY 1, 2
            """
        )
        real = {(vslice, block): used for vslice, block, used in cursor.fetchall()}
    kept = {
        (vslice, block): used
        for vslice, block, used in AddressBlock.objects.values_list("vslice", "block", "used")
        if used
    }
    assert len(real) > 10
    assert kept == real


def test_seeded_network_events_fill_the_events_page_and_match_each_endpoint():
    output = seed(endpoints=400)
    now = timezone.now()
    client = Client()
    client.force_login(get_user_model().objects.get(username="vantiq-viewer"))

    response = client.get(reverse("inventory:event_list"))

    html = response.content.decode()
    assert html.count('data-testid="event-row"') == 50  # a full first page
    vantiq = Account.objects.get(slug="vantiq")
    shown = [row.event for row in response.context["rows"]]
    assert {event.account_id for event in shown} == {vantiq.pk}
    events = NetworkEvent.objects.all()
    assert f"{events.count():,} network events" in output
    assert not events.filter(at__lt=now - NETWORK_EVENT_AGE).exists()
    assert not events.filter(at__gt=now).exists()
    accepted = events.filter(status=EventStatus.ACCEPTED)
    assert set(accepted.values_list("type", flat=True)) == set(EventType.values)
    rejected = events.filter(status=EventStatus.REJECTED)
    assert rejected.exists() and not rejected.filter(reason="").exists()
    rejections = client.get(reverse("inventory:event_list"), {"status": "rejected"})
    assert "endpoint suspended" in rejections.content.decode()

    # Each in-service endpoint's last activity is the time of its newest
    # accepted event, of the type that left it in its state.
    expected_type = {
        State.ACTIVE: {EventType.SESSION_START, EventType.SESSION_UPDATE},
        State.IDLE: {EventType.ATTACH, EventType.SESSION_END},
        State.DETACHED: {EventType.DETACH},
    }
    for endpoint in Endpoint.objects.filter(state__in=IN_SERVICE_STATES):
        assert endpoint.last_activity is not None
        newest = accepted.filter(endpoint=endpoint).order_by("-at").first()
        assert newest is not None, endpoint.state
        assert newest.at == endpoint.last_activity
        assert newest.type in expected_type[endpoint.state]
        assert newest.imsi in set(endpoint.imsis.values_list("imsi", flat=True))
        assert newest.group_id == endpoint.primary_group_id
    # No event was accepted after an endpoint's last activity (a pending one
    # has none), and every rejection is in the endpoint's history, as the
    # network API records it.
    assert not accepted.filter(endpoint__last_activity__isnull=True).exists()
    assert not accepted.filter(at__gt=F("endpoint__last_activity")).exists()
    for event in rejected.select_related("endpoint"):
        assert History.objects.filter(
            endpoint=event.endpoint, action="session_rejected", reason=event.reason, at=event.at
        ).exists()


def test_the_seed_gives_thirty_days_of_usage_consistent_in_every_table():
    seed(endpoints=300)
    days = EndpointDailyUsage.objects.all()
    assert days.count() > 300 * 0.3 * 30 * 0.5
    assert days.values("day").distinct().count() == 30
    in_service = set(
        Endpoint.objects.filter(state__in=IN_SERVICE_STATES).values_list("pk", flat=True)
    )
    assert set(days.values_list("endpoint_id", flat=True)) <= in_service
    by_account: dict = {}
    for row in days:
        total = by_account.setdefault((row.account_id, row.day), [0, 0])
        total[0] += row.bytes_up
        total[1] += row.bytes_down
    kept = {
        (r.account_id, r.day): [r.bytes_up, r.bytes_down] for r in AccountDailyUsage.objects.all()
    }
    assert kept == by_account
    by_month: dict = {}
    for row in days:
        key = (row.endpoint_id, row.day.replace(day=1))
        by_month[key] = by_month.get(key, 0) + row.bytes_up + row.bytes_down
    assert {
        (m.endpoint_id, m.month): m.bytes_total for m in EndpointMonthlyUsage.objects.all()
    } == by_month
