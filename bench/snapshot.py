"""Put the data back after a benchmark step that changes it, by SQL, so that
every run (and every rerun of the benchmark) starts from the same rows.

A snapshot copies the endpoints a step may touch, with their addresses and
secondary memberships, and remembers the highest id of every append-only table;
restoring writes the copies back, deletes what was appended, and vacuums."""

from __future__ import annotations

from django.db import connection

from inventory.models import Endpoint

#: Tables the portal only appends to while the benchmark runs.
APPENDED = ("inventory_history", "inventory_sessionteardown", "inventory_networkevent")


def _columns() -> list[str]:
    return [f.column for f in Endpoint._meta.concrete_fields if not f.primary_key]


class Snapshot:
    """``Snapshot(where_sql, params)`` over ``inventory_endpoint e``; use
    ``take()`` before and ``restore()`` after."""

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
                f"SELECT e.* FROM inventory_endpoint e WHERE {self.where_sql}",
                self.params,
            )
            cursor.execute("ALTER TABLE bench_snap_endpoint ADD PRIMARY KEY (id)")
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_snap_ip AS SELECT a.* FROM inventory_ipallocation a "
                "JOIN bench_snap_endpoint s ON s.id = a.endpoint_id"
            )
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_snap_member AS SELECT m.* "
                "FROM inventory_secondarymembership m "
                "JOIN bench_snap_endpoint s ON s.id = m.endpoint_id"
            )
            cursor.execute("DROP TABLE IF EXISTS bench_snap_vslice")
            cursor.execute(
                "CREATE UNLOGGED TABLE bench_snap_vslice AS "
                "SELECT id, alloc_cursor FROM inventory_vslice"
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
                cursor.execute(f"DELETE FROM {table} WHERE id > %s", [mark])
            cursor.execute(
                "DELETE FROM inventory_ipallocation a USING bench_snap_endpoint s "
                "WHERE a.endpoint_id = s.id"
            )
            cursor.execute("INSERT INTO inventory_ipallocation SELECT * FROM bench_snap_ip")
            cursor.execute(
                "DELETE FROM inventory_secondarymembership m USING bench_snap_endpoint s "
                "WHERE m.endpoint_id = s.id"
            )
            cursor.execute(
                "INSERT INTO inventory_secondarymembership SELECT * FROM bench_snap_member"
            )
            cursor.execute(
                f"UPDATE inventory_endpoint e SET ({targets}) = ({sources}) "
                "FROM bench_snap_endpoint s WHERE e.id = s.id"
            )
            cursor.execute(
                "UPDATE inventory_vslice v SET alloc_cursor = s.alloc_cursor "
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
    tables = tables or (
        "inventory_endpoint",
        "inventory_ipallocation",
        "inventory_history",
        "inventory_sessionteardown",
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
