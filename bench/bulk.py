"""Section 5: bulk suspend, terminate and assign-to-group of 100,000 endpoints
with their history, through the lifecycle rules as a view calls them (one
queryset of "all matching", one actor). Each run is undone by SQL afterwards."""

from __future__ import annotations

import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.measure import summarise
from bench.pages import Row
from bench.picks import Picks
from bench.snapshot import Snapshot
from inventory.history import Actor
from inventory.models import IN_SERVICE_STATES, Endpoint, Group, State

BULK_TARGET_S = 3.0
_IN_SERVICE = [str(s) for s in IN_SERVICE_STATES]


def _boundary(queryset, n: int) -> int:
    """The id of the ``n``-th endpoint of ``queryset`` by id: "the first n" as a
    filter, the way "select all matching" hands a queryset to the rule."""
    ids = queryset.order_by("id").values_list("id", flat=True)
    return ids[n - 1 : n].get()


def _wal_lsn() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def _wal_bytes(since: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [since])
        return int(cursor.fetchone()[0])


def measure_bulk(*, p: Picks, runs: int, size: int = 100_000) -> list[Row]:
    from inventory import lifecycle

    actor = Actor.for_user(p.operator)
    mine = Endpoint.objects.filter(account=p.account)
    in_service = mine.filter(state__in=_IN_SERVICE)
    target_group = (
        Group.objects.filter(account=p.account).exclude(pk=p.group.pk).exclude(pk=p.combo_group.pk)
    ).order_by("name").first() or p.group
    movable = mine.filter(state__in=[State.PENDING, *_IN_SERVICE]).exclude(
        primary_group=target_group
    )
    n = min(size, in_service.count() // 2, movable.count() // 2)
    plans = [
        ("bulk suspend", in_service, lambda qs: lifecycle.suspend(endpoints=qs, actor=actor)),
        ("bulk terminate", in_service, lambda qs: lifecycle.terminate(endpoints=qs, actor=actor)),
        (
            f"bulk assign to {target_group.name}",
            movable,
            lambda qs: lifecycle.assign_to_group(endpoints=qs, group=target_group, actor=actor),
        ),
    ]
    rows = []
    for name, base, act in plans:
        row = Row(section="5 bulk", name=f"{name} ({n:,})", target=f"<= {BULK_TARGET_S:.0f} s")
        last_id = _boundary(base, n)
        queryset = base.filter(id__lte=last_id)
        snapshot = Snapshot("e.account_id = %s AND e.id <= %s", [p.account.pk, last_id])
        seconds, changed, queries, wal = [], [], [], []
        try:
            for _ in range(runs):
                snapshot.take()
                lsn = _wal_lsn()
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as ctx:
                    result = act(queryset)
                seconds.append(time.perf_counter() - started)
                wal.append(_wal_bytes(lsn))
                changed.append(result.changed)
                queries.append(len(ctx.captured_queries))
                snapshot.restore()
        except Exception as exc:  # the rule may not be there yet, or fail: report it
            row.error = f"{type(exc).__name__}: {exc}"
            snapshot.restore()
        finally:
            snapshot.drop()
        if seconds:
            row.portal = summarise(seconds)
            row.portal_queries = max(queries)
            row.value = f"{changed[-1]:,} changed, WAL {sum(wal) / len(wal) / 2**20:.0f} MB/run"
            row.met = row.portal.median_ms <= BULK_TARGET_S * 1000
            row.note = f"{len(seconds)} runs, data restored by SQL after each"
            row.extra = {"changed": changed, "wal_bytes": wal, "seconds": seconds}
        print(f"  {row.name:<34} {row.value} {row.error}", flush=True)
        rows.append(row)
    return rows
