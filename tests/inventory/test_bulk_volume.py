"""Volume: the rules at the sizes operators really act on. The rows are made
set-based (INSERT ... SELECT generate_series) so the test measures the rule,
not the set-up. Timings are printed, not asserted (the machine is shared and
noisy); the benchmark holds the numbers."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from inventory import addressing, lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, History, IPAllocation, SessionTeardown, State, VSlice

IN_SERVICE = 100_000
TERMINATED = 2_000


def insert_endpoints(*, account, group, first: int, count: int, state_sql: str) -> None:
    """``count`` endpoints with one IMSI each; ICCIDs 8944 + 15-digit n."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO inventory_endpoint (account_id, iccid, name, reference, tags, state,
                primary_group_id, imei_lock_enabled, imei, state_changed_at, terminated_at,
                created_at)
            SELECT %s, '8944' || lpad(n::text, 15, '0'), 'car ' || n, '', '{{}}', s.state,
                %s, false, '', now() - interval '5 days',
                CASE WHEN s.state = 'terminated' THEN now() - interval '5 days' END, now()
            FROM generate_series(%s, %s) AS n, LATERAL (SELECT {state_sql} AS state) s
            """,
            [account.pk, group.pk, first, first + count - 1],
        )
        cursor.execute(
            """
            INSERT INTO inventory_imsi (account_id, endpoint_id, imsi)
            SELECT e.account_id, e.id, '23415' || substr(e.iccid, 10)
            FROM inventory_endpoint e WHERE e.account_id = %s
              AND NOT EXISTS (SELECT 1 FROM inventory_imsi i WHERE i.endpoint_id = e.id)
            """,
            [account.pk],
        )
        cursor.execute("ANALYZE inventory_endpoint; ANALYZE inventory_imsi")


@pytest.mark.slow
def test_suspending_100000_endpoints_in_one_call(account, group, operator):
    insert_endpoints(
        account=account,
        group=group,
        first=1,
        count=IN_SERVICE,
        state_sql="(ARRAY['active', 'idle', 'detached'])[mod(n, 3) + 1]",
    )
    insert_endpoints(
        account=account,
        group=group,
        first=IN_SERVICE + 1,
        count=TERMINATED,
        state_sql="'terminated'",
    )
    actives = Endpoint.objects.filter(state=State.ACTIVE).count()
    terminated_before = list(
        Endpoint.objects.filter(state=State.TERMINATED).values_list(
            "pk", "state_changed_at", "terminated_at"
        )
    )

    started = time.perf_counter()
    result = lifecycle.suspend(
        endpoints=Endpoint.objects.filter(account=account),
        actor=Actor.for_user(operator),
        reason="fleet recall",
    )
    elapsed = time.perf_counter() - started
    print(f"\n100,000 endpoints suspended with history in {elapsed:.2f} s")

    assert result.summary() == "100,000 suspended, 2,000 skipped: terminated"
    assert History.objects.filter(batch=result.batch).count() == IN_SERVICE
    assert History.objects.count() == IN_SERVICE
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == IN_SERVICE
    assert (
        list(
            Endpoint.objects.filter(state=State.TERMINATED).values_list(
                "pk", "state_changed_at", "terminated_at"
            )
        )
        == terminated_before
    )
    assert not History.objects.filter(endpoint__state=State.TERMINATED).exists()
    # One teardown per IMSI of the endpoints that were in a data session.
    assert SessionTeardown.objects.count() == actives


@pytest.mark.slow
def test_first_free_address_in_a_16_with_60000_used(account, group):
    """docs/product.md: <= 10 ms wherever the gap is, because the search starts at
    the cursor instead of rescanning the part of the subnet already used."""
    insert_endpoints(account=account, group=group, first=1, count=60_001, state_sql="'active'")
    vslice = group.vslice
    ids = list(Endpoint.objects.order_by("pk").values_list("pk", flat=True))
    # Filled from the front, as the allocator does, in one go.
    started = time.perf_counter()
    answer = addressing.allocate_auto(memberships=[(pk, group.pk) for pk in ids[:60_000]])
    print(f"\n60,000 addresses allocated in one call in {time.perf_counter() - started:.2f} s")
    assert answer[(ids[59_999], group.pk)] == "100.64.234.96"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_ipallocation")

    def timed_first_free() -> tuple[str | None, float]:
        vslice.refresh_from_db()
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            address = addressing.first_free(vslice=vslice)
            runs.append(time.perf_counter() - started)
        return address, sorted(runs)[2] * 1000

    timings = {}
    address, timings["after the packed front"] = timed_first_free()
    assert address == "100.64.234.97"
    # One gap at the front, in the middle, near the end; the cursor either
    # where the allocator left it or wrapped around to the start.
    for gap, where in [
        ("100.64.0.1", "front"),
        ("100.64.117.48", "middle"),
        ("100.64.234.0", "end"),
    ]:
        holder = IPAllocation.objects.get(vslice=vslice, address=gap).endpoint_id
        IPAllocation.objects.filter(vslice=vslice, address=gap).delete()
        address, timings[f"gap at the {where}, cursor after the packed front"] = timed_first_free()
        assert address == "100.64.234.97"
        VSlice.objects.filter(pk=vslice.pk).update(alloc_cursor=1)
        address, timings[f"gap at the {where}, cursor wrapped to the start"] = timed_first_free()
        assert address == gap
        assert addressing.allocate_auto(memberships=[(holder, group.pk)]) == {
            (holder, group.pk): gap
        }
        VSlice.objects.filter(pk=vslice.pk).update(alloc_cursor=60_001)
    for label, ms in timings.items():
        print(f"first free, {label}: {ms:.2f} ms")

    last = addressing.allocate_auto(memberships=[(ids[60_000], group.pk)])
    assert last == {(ids[60_000], group.pk): "100.64.234.97"}
