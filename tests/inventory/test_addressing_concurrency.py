"""Addresses handed out by concurrent transactions (real threads): the VSlice
row lock serialises them, the unique index backs it up."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from inventory import addressing
from inventory.addressing import AddressingError, SubnetFull
from inventory.history import Actor
from inventory.models import IPAllocation, State
from tests.factories import EndpointFactory, GroupFactory


def in_threads(count: int, work: Callable[[int], object]) -> tuple[list, list[BaseException]]:
    """Run ``work(n)`` in ``count`` threads started together; each closes its
    own database connection when done."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            results[n] = work(n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_50_parallel_allocations_in_a_26_then_the_rest_then_full(account):
    group = GroupFactory(account=account, vslice__subnet="100.64.0.0/26")
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, imsis=0)
        for _ in range(63)
    ]

    def allocate(n: int) -> str | None:
        pair = (endpoints[n].pk, group.pk)
        return addressing.allocate_auto(memberships=[pair])[pair]

    first, errors = in_threads(50, allocate)
    assert errors == []
    assert None not in first
    assert len(set(first)) == 50
    hosts = {str(h) for h in ipaddress.IPv4Network("100.64.0.0/26").hosts()}
    assert set(first) <= hosts

    rest, errors = in_threads(12, lambda n: allocate(50 + n))
    assert errors == []
    assert sorted(first + rest, key=ipaddress.IPv4Address) == sorted(
        hosts, key=ipaddress.IPv4Address
    )

    assert allocate(62) is None
    with pytest.raises(SubnetFull) as excinfo:
        addressing.allocate_for(endpoint=endpoints[62], group=group)
    assert excinfo.value.messages == [
        f"Subnet 100.64.0.0/26 of VSlice {group.vslice.name} is full."
    ]
    assert IPAllocation.objects.count() == 62


@pytest.mark.django_db(transaction=True)
def test_the_same_membership_allocated_twice_at_once_gets_one_address(account):
    group = GroupFactory(account=account, vslice__subnet="100.64.0.0/26")
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    pair = (endpoint.pk, group.pk)

    answers, errors = in_threads(10, lambda n: addressing.allocate_auto(memberships=[pair])[pair])

    assert errors == []
    assert set(answers) == {"100.64.0.1"}
    assert IPAllocation.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_static_address_claimed_by_ten_endpoints_at_once(account, operator):
    group = GroupFactory(account=account, vslice__subnet="100.64.0.0/26")
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, imsis=0)
        for _ in range(10)
    ]
    actor = Actor.for_user(operator)

    def claim(n: int) -> str:
        try:
            addressing.reserve_static(
                endpoint=endpoints[n], group=group, address="100.64.0.9", actor=actor
            )
        except AddressingError as exc:
            return exc.messages[0]
        return "won"

    answers, errors = in_threads(10, claim)

    assert errors == []
    assert answers.count("won") == 1
    winner = endpoints[answers.index("won")]
    assert set(answers) - {"won"} == {f"100.64.0.9 is already held by endpoint {winner.iccid}."}
    assert list(IPAllocation.objects.values_list("endpoint_id", "address")) == [
        (winner.pk, "100.64.0.9")
    ]
