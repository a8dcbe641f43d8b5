"""Put the data back after a benchmark step that changes it, by SQL, so that
every run (and every rerun of the benchmark) starts from the same rows.

A snapshot copies the endpoints a step may touch, with their addresses and
secondary memberships, and remembers the highest id of every append-only table;
restoring writes the copies back, deletes what was appended, and vacuums."""

from __future__ import annotations

from django.db import connection

from inventory.models import (
    Endpoint,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
    SessionTeardown,
    VSlice,
)

_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_ALLOCATIONS = _quote(IPAllocation._meta.db_table)
_MEMBERSHIPS = _quote(SecondaryMembership._meta.db_table)
_VSLICES = _quote(VSlice._meta.db_table)
_HISTORY = _quote(History._meta.db_table)
_TEARDOWNS = _quote(SessionTeardown._meta.db_table)

#: Tables the portal only appends to while the benchmark runs.
APPENDED = (_HISTORY, _TEARDOWNS, _quote(NetworkEvent._meta.db_table))


def _columns() -> list[str]:
    return [f.column for f in Endpoint._meta.concrete_fields if not f.primary_key]


class Snapshot:
    """``Snapshot(where_sql, params)`` over the endpoints as ``e``; use
    ``take()`` before and ``restore()`` after. ``where_sql`` takes positional
    ``%s`` parameters, as every statement it is spliced into does."""

    def __init__(self, where_sql: str, params: list | tuple = ()):
        self.where_sql = where_sql
        self.params = list(params)
        self.marks: dict[str, int] = {}

    def take(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TABLE IF EXISTS bench_snap_endpoint, bench_snap_ip, bench_snap_member"
            )
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_snap_endpoint AS "
                f"SELECT e.* FROM {_ENDPOINTS} e WHERE {self.where_sql}",
                self.params,
            )
            cursor.execute("ALTER TABLE bench_snap_endpoint ADD PRIMARY KEY (id)")
            cursor.execute(
                f"CREATE UNLOGGED TABLE bench_snap_ip AS SELECT a.* FROM {_ALLOCATIONS} a "
                "JOIN bench_snap_endpoint s ON s.id = a.endpoint_id"
            )
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_snap_member AS SELECT m.* "
                f"FROM {_MEMBERSHIPS} m "
                "JOIN bench_snap_endpoint s ON s.id = m.endpoint_id"
            )
            cursor.execute("DROP TABLE IF EXISTS bench_snap_vslice")
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_snap_vslice AS "
                f"SELECT id, alloc_cursor FROM {_VSLICES}"
            )
            for table in APPENDED:
                cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
                self.marks[table] = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM bench_snap_endpoint")
            return cursor.fetchone()[0]

    def restore(self, *, vacuum: bool = True) -> None:
        columns = _columns()
        targets = ", ".join(f'"{c}"' for c in columns)
        sources = ", ".join(f's."{c}"' for c in columns)
        with connection.cursor() as cursor:
            for table, mark in self.marks.items():
                cursor.execute(f"DELETE FROM {table} WHERE id > %(mark)s", {"mark": mark})
            cursor.execute(
                f"DELETE FROM {_ALLOCATIONS} a USING bench_snap_endpoint s "
                "WHERE a.endpoint_id = s.id"
            )
            cursor.execute(f"INSERT INTO {_ALLOCATIONS} SELECT * FROM bench_snap_ip")
            cursor.execute(
                f"DELETE FROM {_MEMBERSHIPS} m USING bench_snap_endpoint s "
                "WHERE m.endpoint_id = s.id"
            )
            cursor.execute(f"INSERT INTO {_MEMBERSHIPS} SELECT * FROM bench_snap_member")
            cursor.execute(
                f"UPDATE {_ENDPOINTS} e SET ({targets}) = ({sources}) "
                "FROM bench_snap_endpoint s WHERE e.id = s.id"
            )
            cursor.execute(
                f"UPDATE {_VSLICES} v SET alloc_cursor = s.alloc_cursor "
                "FROM bench_snap_vslice s WHERE v.id = s.id AND v.alloc_cursor <> s.alloc_cursor"
            )
        if vacuum:
            vacuum_tables()

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "DROP TABLE IF EXISTS bench_snap_endpoint, bench_snap_ip, bench_snap_member, "
                "bench_snap_vslice"
            )


def vacuum_tables(*tables: str) -> None:
    """VACUUM needs autocommit; Django's connection is in it outside atomic()."""
    tables = tables or (_ENDPOINTS, _ALLOCATIONS, _HISTORY, _TEARDOWNS)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
