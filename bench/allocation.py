"""Section 6: the first free address of a /16 with 60,000 addresses in use, with
the one gap at the front, in the middle or at the end; and 50 allocations at
once from 50 threads. Runs on a VSlice of its own, removed afterwards."""

from __future__ import annotations

import threading
import time

from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext

from bench.measure import summarise, time_runs
from bench.pages import Row
from bench.picks import Picks
from inventory.models import Endpoint, Group, IPAllocation, VSlice

FIRST_FREE_TARGET_MS = 10.0
SUBNET = "10.250.0.0/16"
USED = 60_000
CONCURRENT = 50
_ALLOCATIONS = connection.ops.quote_name(IPAllocation._meta.db_table)


def gaps(used: int) -> dict[str, int]:
    """Host offset left free in each scenario; all others of 1..used+1 are used."""
    return {"front": 1, "middle": used // 2 + 1, "end": used + 1}


def _setup(p: Picks, used: int) -> tuple[VSlice, list[Group], list[int]]:
    vslice, _ = VSlice.objects.get_or_create(
        account=p.account, name="bench-addressing", defaults={"subnet": SUBNET}
    )
    ids = list(
        Endpoint.objects.filter(account=p.account)
        .order_by("id")
        .values_list("id", flat=True)[:used]
    )
    groups = [
        Group.objects.get_or_create(
            account=p.account, name=f"bench-addressing-{k}", defaults={"vslice": vslice, "apn": "b"}
        )[0]
        for k in range(-(-used // len(ids)) + 1)  # one more: empty, for the concurrent run
    ]
    return vslice, groups, ids


def _fill(vslice: VSlice, groups: list[Group], ids: list[int], gap: int, used: int) -> None:
    """``used`` addresses: offsets 1..used+1 except ``gap``, each held by one
    (endpoint, group) pair, spreading over several groups when the account has
    fewer endpoints than that (smoke runs)."""
    IPAllocation.objects.filter(vslice=vslice).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_ALLOCATIONS}
                (account_id, endpoint_id, group_id, vslice_id, address, kind, created_at)
            SELECT %(account)s, (%(ids)s::bigint[])[n %% %(n_ids)s + 1],
                   (%(groups)s::bigint[])[n / %(n_ids)s + 1], %(vslice)s,
                   set_masklen(%(subnet)s::inet, 32)
                       + (CASE WHEN n + 1 >= %(gap)s THEN n + 2 ELSE n + 1 END),
                   'static', now()
            FROM generate_series(0, %(used)s - 1) AS n
            """,
            {
                "account": vslice.account_id,
                "ids": ids,
                "n_ids": len(ids),
                "groups": [g.pk for g in groups[:-1]],
                "vslice": vslice.pk,
                "subnet": vslice.subnet,
                "gap": gap,
                "used": used,
            },
        )
        cursor.execute(f"ANALYZE {_ALLOCATIONS}")


def _teardown(vslice: VSlice, groups: list[Group]) -> None:
    IPAllocation.objects.filter(vslice=vslice).delete()
    Group.objects.filter(pk__in=[g.pk for g in groups]).delete()
    vslice.delete()


def measure_allocation(*, p: Picks, runs: int, used: int = USED) -> list[Row]:
    from inventory import addressing

    rows = []
    vslice, groups, ids = _setup(p, used)
    try:
        for where, gap in gaps(used).items():
            _fill(vslice, groups, ids, gap, used)
            expected = addressing_host(gap)
            # The cursor at the start (a subnet never allocated from, or wrapped)
            # and where sequential allocation of the used part would leave it.
            for cursor_name, cursor in (("cursor at 1", 1), ("cursor after fill", used + 2)):
                row = Row(
                    section="6 addressing",
                    name=f"first free of {used:,} used, gap at {where}, {cursor_name}",
                    target=f"<= {FIRST_FREE_TARGET_MS:.0f} ms",
                )
                VSlice.objects.filter(pk=vslice.pk).update(alloc_cursor=cursor)
                vslice.refresh_from_db()
                try:
                    with CaptureQueriesContext(connection) as queries:
                        found = addressing.first_free(vslice=vslice)
                    row.portal = time_runs(lambda: addressing.first_free(vslice=vslice), runs=runs)
                    row.portal_queries = len(queries.captured_queries)
                    row.value = f"-> {found}"
                    row.met = row.portal.median_ms <= FIRST_FREE_TARGET_MS
                    if cursor == 1 and found != expected:
                        row.note = f"expected {expected}"
                except Exception as exc:
                    row.error = f"{type(exc).__name__}: {exc}"
                print(f"  {row.name:<44} {_ms(row)} {row.value} {row.error}", flush=True)
                rows.append(row)
        rows.append(_concurrent(addressing, vslice, groups[-1], ids, used))
    finally:
        _teardown(vslice, groups)
    return rows


def addressing_host(offset: int) -> str:
    import ipaddress

    return str(ipaddress.IPv4Network(SUBNET).network_address + offset)


def _concurrent(addressing, vslice: VSlice, group: Group, ids: list[int], used: int) -> Row:
    row = Row(section="6 addressing", name=f"{CONCURRENT} concurrent allocations", target="(none)")
    # Where allocating the used part one by one would have left the cursor.
    VSlice.objects.filter(pk=vslice.pk).update(alloc_cursor=used + 2)
    barrier = threading.Barrier(CONCURRENT)
    latencies: list[float] = []
    answers: list[str | None] = []
    errors: list[str] = []
    lock = threading.Lock()

    def allocate(endpoint_id: int) -> None:
        close_old_connections()
        try:
            connection.ensure_connection()  # connecting is not part of allocating
            barrier.wait()
            started = time.perf_counter()
            with transaction.atomic():
                got = addressing.allocate_auto(memberships=[(endpoint_id, group.pk)])
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                answers.append(got.get((endpoint_id, group.pk)))
        except Exception as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=allocate, args=(endpoint_id,)) for endpoint_id in ids[:CONCURRENT]
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if latencies:
        row.portal = summarise(latencies)
    distinct = len({a for a in answers if a})
    row.value = f"{distinct} distinct addresses in {wall * 1000:.0f} ms wall"
    row.met = distinct == CONCURRENT and not errors
    row.note = "per-call latency; the whole of the 50 within the wall time"
    if errors:
        row.error = errors[0]
    row.extra = {"wall_ms": wall * 1000, "distinct": distinct, "errors": len(errors)}
    print(f"  {row.name:<44} {row.value} {row.error}", flush=True)
    return row


def _ms(row: Row) -> str:
    return f"{row.portal.median_ms:7.2f} ms" if row.portal else "     —    "
