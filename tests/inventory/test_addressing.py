"""Addressing: static reservations, the next free automatic address at the
subnet edges, the allocation cursor, releases."""

from __future__ import annotations

import ipaddress
import random

import pytest
from django.db import connection

from inventory import addressing, lifecycle
from inventory.addressing import AddressingError, SubnetFull
from inventory.history import Actor
from inventory.models import (
    AddressBlock,
    AllocationKind,
    Endpoint,
    History,
    IPAllocation,
    SecondaryMembership,
    State,
    VSlice,
)
from tests.factories import EndpointFactory, GroupFactory


@pytest.fixture
def actor(operator):
    return Actor.for_user(operator)


@pytest.fixture
def small_group(account):
    return GroupFactory(account=account, name="small", vslice__subnet="100.64.0.0/26")


def active_endpoints(account, group, n):
    return [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, imsis=0)
        for _ in range(n)
    ]


def allocate(endpoints, group):
    pairs = [(e.pk, group.pk) for e in endpoints]
    answer = addressing.allocate_auto(memberships=pairs)
    return [answer[pair] for pair in pairs]


def cursor_of(group):
    return VSlice.objects.get(pk=group.vslice_id).alloc_cursor


# -- automatic addresses ----------------------------------------------------------


def test_a_26_gives_62_host_addresses_from_1_to_62_then_is_full(account, small_group):
    endpoints = active_endpoints(account, small_group, 63)

    addresses = allocate(endpoints[:62], small_group)

    assert addresses == [f"100.64.0.{n}" for n in range(1, 63)]
    assert allocate(endpoints[62:], small_group) == [None]
    with pytest.raises(SubnetFull, match=r"^\['Subnet 100.64.0.0/26 of VSlice .* is full.'\]$"):
        addressing.allocate_for(endpoint=endpoints[62], group=small_group)
    assert addressing.first_free(vslice=small_group.vslice) is None
    assert IPAllocation.objects.count() == 62
    assert set(IPAllocation.objects.values_list("kind", flat=True)) == {"auto"}


def test_an_existing_allocation_is_returned_as_it_is(account, small_group, actor):
    [endpoint] = active_endpoints(account, small_group, 1)
    addressing.reserve_static(
        endpoint=endpoint, group=small_group, address="100.64.0.40", actor=actor
    )

    assert allocate([endpoint], small_group) == ["100.64.0.40"]
    assert allocate([endpoint], small_group) == ["100.64.0.40"]
    assert IPAllocation.objects.count() == 1
    assert cursor_of(small_group) == 1


def test_the_cursor_moves_on_and_wraps_once_to_find_a_released_hole(account, small_group):
    endpoints = active_endpoints(account, small_group, 63)
    allocate(endpoints[:62], small_group)
    assert cursor_of(small_group) == 1  # wrapped after handing out .62

    IPAllocation.objects.filter(address__in=["100.64.0.7", "100.64.0.30"]).delete()
    assert addressing.first_free(vslice=small_group.vslice) == "100.64.0.7"
    VSlice.objects.filter(pk=small_group.vslice_id).update(alloc_cursor=20)
    small_group.vslice.refresh_from_db()
    assert addressing.first_free(vslice=small_group.vslice) == "100.64.0.30"

    assert allocate(endpoints[62:], small_group) == ["100.64.0.30"]
    assert cursor_of(small_group) == 31
    # From .31 on everything is taken: the search wraps to the start for .7.
    newcomer = active_endpoints(account, small_group, 1)
    assert allocate(newcomer, small_group) == ["100.64.0.7"]
    assert cursor_of(small_group) == 8


def test_a_subnet_filled_from_the_front_is_not_rescanned(account, group):
    """The cursor points past the last allocation: the next search starts there."""
    endpoints = active_endpoints(account, group, 3)
    allocate(endpoints[:2], group)
    assert cursor_of(group) == 3
    # A hole behind the cursor is left for the wrap-around; the search goes on.
    IPAllocation.objects.filter(address="100.64.0.1").delete()
    assert allocate(endpoints[2:], group) == ["100.64.0.3"]


def test_static_addresses_ahead_of_the_cursor_are_skipped(account, small_group, actor):
    endpoints = active_endpoints(account, small_group, 3)
    for endpoint, address in zip(endpoints[:2], ["100.64.0.1", "100.64.0.2"], strict=True):
        addressing.reserve_static(
            endpoint=endpoint, group=small_group, address=address, actor=actor
        )
    assert allocate(endpoints[2:], small_group) == ["100.64.0.3"]


@pytest.mark.parametrize("subnet", ["100.64.0.0/31", "100.64.0.8/32"])
def test_31_and_32_subnets_have_no_automatic_addresses(account, subnet):
    group = GroupFactory(account=account, vslice__subnet=subnet)
    endpoints = active_endpoints(account, group, 1)
    assert allocate(endpoints, group) == [None]
    assert addressing.first_free(vslice=group.vslice) is None


def test_a_30_has_two_hosts(account):
    group = GroupFactory(account=account, vslice__subnet="100.64.0.4/30")
    endpoints = active_endpoints(account, group, 3)
    assert allocate(endpoints, group) == ["100.64.0.5", "100.64.0.6", None]


def test_several_groups_and_vslices_in_one_call(account, group, small_group):
    second = GroupFactory(account=account, vslice=small_group.vslice)
    endpoints = active_endpoints(account, group, 2)

    answer = addressing.allocate_auto(
        memberships=[
            (endpoints[0].pk, group.pk),
            (endpoints[0].pk, small_group.pk),
            (endpoints[1].pk, second.pk),
            (endpoints[1].pk, group.pk),
        ]
    )

    assert sorted(answer.values()) == sorted(
        ["100.64.0.1", "100.64.0.2", "100.64.0.1", "100.64.0.2"]
    )
    assert answer[(endpoints[0].pk, small_group.pk)] != answer[(endpoints[1].pk, second.pk)]
    assert IPAllocation.objects.count() == 4


def test_no_address_for_an_endpoint_of_another_account(account, other_account, small_group):
    stranger = EndpointFactory(account=other_account, imsis=0)
    assert allocate([stranger], small_group) == [None]
    assert not IPAllocation.objects.exists()


def test_first_free_reads_without_allocating(account, small_group):
    endpoints = active_endpoints(account, small_group, 1)
    assert addressing.first_free(vslice=small_group.vslice) == "100.64.0.1"
    assert addressing.first_free(vslice=small_group.vslice) == "100.64.0.1"
    allocate(endpoints, small_group)
    small_group.vslice.refresh_from_db()
    assert addressing.first_free(vslice=small_group.vslice) == "100.64.0.2"


def test_first_free_in_a_16_is_one_query_and_never_the_broadcast(
    account, group, django_assert_max_num_queries
):
    VSlice.objects.filter(pk=group.vslice_id).update(alloc_cursor=65534)
    group.vslice.refresh_from_db()
    with django_assert_max_num_queries(1):
        assert addressing.first_free(vslice=group.vslice) == "100.64.255.254"


def test_allocate_auto_runs_a_constant_number_of_queries(
    account, small_group, django_assert_max_num_queries
):
    endpoints = active_endpoints(account, small_group, 30)
    # savepoint, existing ones, groups, VSlice lock, where to start, insert, release
    with django_assert_max_num_queries(7):
        addresses = allocate(endpoints, small_group)
    assert len(set(addresses)) == 30


# -- static addresses -------------------------------------------------------------


def test_reserve_static_in_the_primary_group(account, group, actor):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)

    allocation = addressing.reserve_static(
        endpoint=endpoint, group=group, address=" 100.64.3.7 ", actor=actor
    )

    allocation.refresh_from_db()
    assert (allocation.address, allocation.kind, allocation.vslice_id) == (
        "100.64.3.7",
        AllocationKind.STATIC,
        group.vslice_id,
    )
    row = History.objects.get(endpoint=endpoint)
    assert (row.action, row.actor_label) == ("static_ip", "op")
    assert row.changes == {"ip": {"vantiq-connect-eu": [None, "100.64.3.7"]}}


def test_reserve_static_replaces_the_address_in_that_group(account, group, actor):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    [auto] = allocate([endpoint], group)

    addressing.reserve_static(endpoint=endpoint, group=group, address="100.64.9.9", actor=actor)

    assert list(endpoint.ip_allocations.values_list("address", "kind")) == [
        ("100.64.9.9", "static")
    ]
    assert History.objects.get().changes == {"ip": {"vantiq-connect-eu": [auto, "100.64.9.9"]}}


def test_making_the_automatic_address_static_keeps_it(account, group, actor):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    [auto] = allocate([endpoint], group)
    addressing.reserve_static(endpoint=endpoint, group=group, address=auto, actor=actor)
    addressing.reserve_static(endpoint=endpoint, group=group, address=auto, actor=actor)
    assert list(endpoint.ip_allocations.values_list("address", "kind")) == [(auto, "static")]
    assert History.objects.count() == 1  # the second call changed nothing


def test_reserve_static_in_a_secondary_group(account, group, small_group, actor):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=small_group)
    addressing.reserve_static(
        endpoint=endpoint, group=small_group, address="100.64.0.62", actor=actor
    )
    assert endpoint.ip_allocations.get().group == small_group


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            "100.64.0.0",
            "100.64.0.0 is the network address of 100.64.0.0/26; choose a host address.",
        ),
        (
            "100.64.0.63",
            "100.64.0.63 is the broadcast address of 100.64.0.0/26; choose a host address.",
        ),
        ("100.64.0.64", "100.64.0.64 is outside the subnet 100.64.0.0/26."),
        ("100.64.0.07", "is not an IPv4 address"),
        ("banana", "is not an IPv4 address"),
        ("", "is not an IPv4 address"),
    ],
)
def test_bad_static_addresses_are_refused_with_a_clear_message(
    account, small_group, actor, address, message
):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=small_group)

    with pytest.raises(AddressingError) as excinfo:
        addressing.reserve_static(
            endpoint=endpoint, group=small_group, address=address, actor=actor
        )

    assert message in excinfo.value.messages[0]
    assert not IPAllocation.objects.exists()
    assert not History.objects.exists()


def test_an_address_held_by_another_endpoint_is_refused(account, small_group, actor):
    holder, endpoint = (
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=small_group)
        for _ in range(2)
    )
    [taken] = allocate([holder], small_group)

    with pytest.raises(AddressingError) as excinfo:
        addressing.reserve_static(endpoint=endpoint, group=small_group, address=taken, actor=actor)

    assert excinfo.value.messages == [f"{taken} is already held by endpoint {holder.iccid}."]
    assert excinfo.value.code == "ip_taken"
    assert not endpoint.ip_allocations.exists()


def test_the_same_address_in_another_vslice_is_free(account, group, actor):
    elsewhere = GroupFactory(account=account, vslice__subnet="100.64.0.0/16")
    one = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    two = EndpointFactory(account=account, state=State.ACTIVE, primary_group=elsewhere)
    addressing.reserve_static(endpoint=one, group=group, address="100.64.0.5", actor=actor)
    addressing.reserve_static(endpoint=two, group=elsewhere, address="100.64.0.5", actor=actor)
    assert IPAllocation.objects.filter(address="100.64.0.5").count() == 2


def test_only_in_a_group_the_endpoint_is_a_member_of(account, other_account, group, actor):
    outsider = EndpointFactory(account=account, state=State.PENDING)
    stranger = EndpointFactory(account=other_account, state=State.PENDING)
    for endpoint in (outsider, stranger):
        with pytest.raises(AddressingError, match="is not a member of group vantiq-connect-eu"):
            addressing.reserve_static(
                endpoint=endpoint, group=group, address="100.64.0.5", actor=actor
            )
    assert not IPAllocation.objects.exists()


def test_clear_static(account, group, actor):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    addressing.reserve_static(endpoint=endpoint, group=group, address="100.64.0.5", actor=actor)

    assert addressing.clear_static(endpoint=endpoint, group=group, actor=actor) is True
    assert addressing.clear_static(endpoint=endpoint, group=group, actor=actor) is False

    assert not endpoint.ip_allocations.exists()
    last = History.objects.order_by("-id").first()
    assert last.changes == {"ip": {"vantiq-connect-eu": ["100.64.0.5", None]}}


def test_clear_static_leaves_an_automatic_address(account, group, actor):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    allocate([endpoint], group)
    assert addressing.clear_static(endpoint=endpoint, group=group, actor=actor) is False
    assert endpoint.ip_allocations.count() == 1


# -- release ----------------------------------------------------------------------


def test_release_gives_back_the_kinds_asked_for(account, group, small_group, actor):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=small_group)
    allocate([endpoint], group)
    addressing.reserve_static(
        endpoint=endpoint, group=small_group, address="100.64.0.9", actor=actor
    )
    endpoints = Endpoint.objects.filter(pk=endpoint.pk)

    assert addressing.release(endpoints=endpoints, group=small_group) == 0
    assert addressing.release(endpoints=endpoints) == 1
    assert list(endpoint.ip_allocations.values_list("kind", flat=True)) == ["static"]
    assert addressing.release(endpoints=endpoints, kinds=("auto", "static")) == 1
    assert not endpoint.ip_allocations.exists()


def test_addresses_are_valid_hosts_of_the_subnet(account, small_group):
    addresses = allocate(active_endpoints(account, small_group, 62), small_group)
    network = ipaddress.IPv4Network("100.64.0.0/26")
    hosts = set(network.hosts())
    assert {ipaddress.IPv4Address(a) for a in addresses} == hosts


def test_the_next_free_address_is_the_first_gap_from_the_cursor_on(account):
    """Against a plain Python answer, for subnets packed to different depths
    (so the search has to skip long used stretches) and cursors anywhere."""
    group = GroupFactory(account=account, vslice__subnet="10.8.0.0/22")  # 1,022 hosts
    vslice = group.vslice
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO inventory_endpoint (account_id, iccid, name, reference, tags, state,"
            " imei_lock_enabled, imei, state_changed_at, created_at)"
            " SELECT %s, '8944' || lpad(n::text, 15, '0'), '', '', '{}', 'pending', false, '',"
            " now(), now() FROM generate_series(1, 1022) AS n RETURNING id",
            [account.pk],
        )
        endpoint_ids = [row[0] for row in cursor.fetchall()]
    rnd = random.Random(7)
    for scenario in range(40):
        depth = rnd.choice([0, 5, 70, 300, 700, 1000, 1022])
        used = set(range(1, depth + 1)) - set(rnd.sample(range(1, 1023), rnd.choice([0, 1, 3])))
        used |= set(rnd.sample(range(1, 1023), rnd.choice([0, 20, 200])))
        cursor_at = rnd.choice([1, 2, 64, 65, 500, depth or 1, 1022])
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM inventory_ipallocation")
            cursor.execute(
                "INSERT INTO inventory_ipallocation"
                " (account_id, endpoint_id, group_id, vslice_id, address, kind, created_at)"
                " SELECT %s, e, %s, %s, '10.8.0.0'::inet + o, 'auto', now()"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS u(e, o)",
                [account.pk, group.pk, vslice.pk, endpoint_ids[: len(used)], sorted(used)],
            )
        VSlice.objects.filter(pk=vslice.pk).update(alloc_cursor=cursor_at)
        vslice.refresh_from_db()
        free = [o for o in range(cursor_at, 1023) if o not in used]
        free += [o for o in range(1, cursor_at) if o not in used]
        expected = str(ipaddress.IPv4Address("10.8.0.0") + free[0]) if free else None
        assert addressing.first_free(vslice=vslice) == expected, (scenario, depth, cursor_at)


# -- per-/24 block counts ---------------------------------------------------------


def block_counts(vslice_id):
    return {
        block: used
        for block, used in AddressBlock.objects.filter(vslice_id=vslice_id).values_list(
            "block", "used"
        )
        if used
    }


def recount(vslice_id):
    counts = {}
    for address in IPAllocation.objects.filter(vslice_id=vslice_id).values_list(
        "address", flat=True
    ):
        block = int(ipaddress.IPv4Address(address)) // 256
        counts[block] = counts.get(block, 0) + 1
    return counts


def test_block_counts_follow_every_write_to_the_allocations(account, actor):
    """Allocation, a static address moved to another block, release, terminate
    and the cascade of a deleted endpoint all keep the counts exact."""
    group = GroupFactory(account=account, vslice__subnet="10.9.0.0/22")  # 4 blocks
    vslice_id = group.vslice_id
    VSlice.objects.filter(pk=vslice_id).update(alloc_cursor=250)
    endpoints = active_endpoints(account, group, 12)
    allocate(endpoints, group)  # 10.9.0.250-255 and 10.9.1.0-5
    assert block_counts(vslice_id) == recount(vslice_id) != {}
    assert sorted(block_counts(vslice_id).values()) == [6, 6]

    addressing.reserve_static(endpoint=endpoints[0], group=group, address="10.9.3.9", actor=actor)
    assert block_counts(vslice_id) == recount(vslice_id)
    assert len(block_counts(vslice_id)) == 3

    addressing.release(endpoints=Endpoint.objects.filter(pk__in=[e.pk for e in endpoints[1:4]]))
    assert block_counts(vslice_id) == recount(vslice_id)

    lifecycle.terminate(endpoints=Endpoint.objects.filter(pk=endpoints[5].pk), actor=actor)
    Endpoint.objects.filter(pk=endpoints[0].pk).delete()  # its static address goes with it
    assert block_counts(vslice_id) == recount(vslice_id)
    assert sum(block_counts(vslice_id).values()) == 7


def test_wrong_block_counts_never_hide_the_free_address(account):
    """The counts only speed the search up: blocks counted full that are not,
    or counted free that are not, still give the first gap from the cursor."""
    group = GroupFactory(account=account, vslice__subnet="10.10.0.0/22")
    vslice = group.vslice
    endpoints = active_endpoints(account, group, 1021)
    allocate(endpoints, group)  # 1,021 of 1,022 hosts: only 10.10.3.254 is left
    AddressBlock.objects.filter(vslice=vslice).update(used=256)
    VSlice.objects.filter(pk=vslice.pk).update(alloc_cursor=1)
    vslice.refresh_from_db()
    assert addressing.first_free(vslice=vslice) == "10.10.3.254"

    AddressBlock.objects.filter(vslice=vslice).update(used=0)
    assert addressing.first_free(vslice=vslice) == "10.10.3.254"


@pytest.mark.parametrize(
    ("subnet", "hosts"),
    [("100.64.0.0/16", 65534), ("100.64.0.4/30", 2), ("100.64.0.4/31", 0), ("100.64.0.4/32", 0)],
)
def test_usable_hosts_exclude_network_and_broadcast(subnet, hosts):
    assert addressing.usable_hosts(subnet) == hosts


@pytest.mark.parametrize("subnet", ["100.64.0.4/31", "100.64.0.4/32"])
def test_a_31_or_32_has_no_host_to_give(account, subnet):
    group = GroupFactory(account=account, vslice__subnet=subnet)
    assert allocate(active_endpoints(account, group, 1), group) == [None]
