"""manage.py seed_demo: the demo accounts, logins and a fleet that looks real."""

import ipaddress
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F
from django.utils import timezone

from inventory import demo_data
from inventory.identifiers import clean_iccid, clean_imsi
from inventory.models import (
    IMSI,
    IN_SERVICE_STATES,
    Endpoint,
    Group,
    History,
    IPAllocation,
    SecondaryMembership,
    State,
    VSlice,
)
from portal.models import Account, Member

pytestmark = pytest.mark.django_db


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
    changed = History.objects.exclude(action="created").values("endpoint").distinct().count()
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


@pytest.mark.django_db(transaction=True)
def test_a_large_seed_written_in_parallel_is_complete_and_consistent():
    result = demo_data.seed(endpoints=3000, writers=2)

    assert result.endpoints == Endpoint.objects.count() == 3000
    assert result.imsis == IMSI.objects.count()
    assert result.history == History.objects.count()
    assert result.addresses == IPAllocation.objects.count()
    assert History.objects.filter(action="created").count() == 3000
    used = IPAllocation.objects.filter(vslice__name="vantiq-eu").count()
    assert VSlice.objects.get(name="vantiq-eu").alloc_cursor == used + 1
