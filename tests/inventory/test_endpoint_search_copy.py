"""The searched copy of name, reference and ICCID (EndpointSearch) is kept by
the database: whatever writes endpoints, the copy says what the endpoint says,
and a state change does not touch it."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from inventory import lifecycle, search
from inventory.history import Actor
from inventory.models import Endpoint, EndpointSearch, State
from inventory.retention import purge_terminated
from inventory.sim_import import import_sims
from tests.factories import EndpointFactory, iccid_for, imsi_for

pytestmark = pytest.mark.django_db


def copies() -> dict[int, tuple[str, str, str]]:
    return {
        row.endpoint_id: (row.name, row.reference, row.iccid)
        for row in EndpointSearch.objects.all()
    }


def originals() -> dict[int, tuple[str, str, str]]:
    return {
        pk: (name, ref, iccid)
        for pk, name, ref, iccid in Endpoint.objects.values_list("id", "name", "reference", "iccid")
    }


def test_created_endpoints_are_copied_one_by_one_and_in_bulk(account):
    EndpointFactory(account=account, name="Truck 7", reference="PO-1", tags=["fleet:a"])
    Endpoint.objects.bulk_create(
        Endpoint(account=account, iccid=iccid_for(100 + n), name=f"Van {n}") for n in range(3)
    )
    assert len(copies()) == 4
    assert copies() == originals()


def test_an_import_written_with_copy_is_copied(account):
    data = "iccid,imsis,name,reference,tags\n" + "".join(
        f"{iccid_for(n)},{imsi_for(n)},Car {n},REF-{n},fleet:b\n" for n in range(50)
    )
    import_sims(io.StringIO(data), account=account, actor=Actor.SYSTEM)
    assert len(copies()) == 50
    assert copies() == originals()
    assert search.text_contains(Endpoint.objects.all(), "ref-4").count() == 11  # 4, 40-49


def test_edits_reach_the_copy_and_searches_see_them(account):
    endpoint = EndpointFactory(account=account, name="Truck 7", tags=["fleet:a"])
    endpoint.name = "Crane 12"
    endpoint.save()
    Endpoint.objects.filter(pk=endpoint.pk).update(reference="WO-991")
    assert copies() == originals()
    everyone = Endpoint.objects.all()
    assert list(search.text_contains(everyone, "crane")) == [endpoint]
    assert list(search.text_contains(everyone, "o-99")) == [endpoint]
    assert not search.text_contains(everyone, "truck").exists()


def test_the_last_digits_of_an_iccid_are_found_through_the_copy(account, other_account):
    mine = EndpointFactory(account=account, iccid=iccid_for(123456))
    digits = mine.iccid[-6:]
    # Another account's SIM with the same last six digits (check digit included).
    theirs = next(
        iccid_for(123456 + k * 10**6)
        for k in range(1, 100)
        if iccid_for(123456 + k * 10**6).endswith(digits)
    )
    EndpointFactory(account=other_account, iccid=theirs)
    assert search.search(endpoints=Endpoint.objects.all(), q=digits).count() == 2
    found = search.search(endpoints=Endpoint.objects.filter(account=account), q=digits)
    assert list(found) == [mine]
    # A corrected ICCID (the admin never edits it; a fix in SQL might) is
    # found by its new digits, not its old ones.
    fixed = iccid_for(777777)
    Endpoint.objects.filter(pk=mine.pk).update(iccid=fixed)
    assert copies() == originals()
    assert list(search.search(endpoints=Endpoint.objects.all(), q=fixed[-7:])) == [mine]
    assert not search.search(endpoints=Endpoint.objects.all(), q=digits).filter(pk=mine.pk)


def test_a_state_change_leaves_the_copy_alone(account, group, operator):
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, name=f"Bus {n}")
        for n in range(5)
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT ctid::text FROM inventory_endpointsearch ORDER BY endpoint_id")
        before = cursor.fetchall()
    result = lifecycle.suspend(
        endpoints=Endpoint.objects.filter(pk__in=[e.pk for e in endpoints]),
        actor=Actor.for_user(operator),
    )
    assert result.changed == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT ctid::text FROM inventory_endpointsearch ORDER BY endpoint_id")
        assert cursor.fetchall() == before  # no new row version: same places


def test_deleted_and_purged_endpoints_take_their_copy_with_them(account, operator):
    kept, deleted, purged = (EndpointFactory(account=account) for _ in range(3))
    deleted.delete()
    lifecycle.terminate(endpoints=Endpoint.objects.filter(pk=purged.pk), actor=Actor.SYSTEM)
    Endpoint.objects.filter(pk=purged.pk).update(terminated_at="2000-01-01T00:00:00Z")
    assert purge_terminated().endpoints == 1
    assert set(copies()) == {kept.pk}
