"""Loading empty tables: build their indexes and check their foreign keys once,
after the rows are in, instead of row by row during COPY.

A fresh ``seed_demo --endpoints 1000000`` writes about seven million rows into
seven tables. With every index in place each row pays an entry in every index
of its table (ten on the endpoint table, two trigram GIN indexes and the
reversed ICCID on its search copy) and a lookup per foreign key; a sorted
index build and one validating join per foreign key cost a fraction of that
(docs/benchmark.md, "Seeding a million endpoints"). The drop and the rebuild
happen in the seed's own transaction, so a failed seed leaves the schema as it
was, and only when every table is empty: topping up a loaded database keeps
the indexes, which would cost more to rebuild than to extend.

Primary keys stay (the foreign keys of other tables hang on them), as does any
unique index a foreign key refers to.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: Memory for each index build of the load (the server's default is 64 MB,
#: which makes the GIN and the larger btree builds spill to disk).
BUILD_MEMORY = "256MB"


@dataclass(frozen=True)
class _Deferred:
    table: str
    name: str
    #: ``ALTER TABLE … ADD CONSTRAINT`` (a constraint) or ``CREATE INDEX`` text.
    definition: str
    is_constraint: bool


def _all_empty(cursor, tables: list[str]) -> bool:
    for table in tables:
        cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")
        if not cursor.fetchone()[0]:
            return False
    return True


def _deferred(cursor, tables: list[str]) -> list[_Deferred]:
    """The foreign keys, unique constraints and secondary indexes of ``tables``
    that can be dropped and rebuilt, each with the SQL that rebuilds it."""
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, quote_ident(c.conname),
               pg_get_constraintdef(c.oid), c.contype
          FROM pg_constraint c
         WHERE c.conrelid = ANY(%(tables)s::regclass[])
           AND (c.contype = 'f'
                OR (c.contype = 'u'
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint f
                                     WHERE f.contype = 'f' AND f.conindid = c.conindid)))
         ORDER BY c.contype DESC, c.conname
        """,
        {"tables": tables},
    )
    items = [
        _Deferred(table, name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}", True)
        for table, name, definition, _ in cursor.fetchall()
    ]
    cursor.execute(
        """
        SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text,
               pg_get_indexdef(i.indexrelid)
          FROM pg_index i
         WHERE i.indrelid = ANY(%(tables)s::regclass[])
           AND NOT i.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
         ORDER BY 2
        """,
        {"tables": tables},
    )
    items += [_Deferred(table, name, definition, False) for table, name, definition in cursor]
    return items


@contextmanager
def indexes_after_load(cursor, tables: list[str]) -> Iterator[bool]:
    """Within the caller's transaction: if every one of ``tables`` (quoted
    names) is empty, drop their foreign keys, unique constraints and secondary
    indexes, and rebuild them all when the block ends; yields whether it did.
    Deferred constraint checks run immediately from here on.
    The rebuild checks every constraint, so bad rows fail the load as they
    would have row by row."""
    if not _all_empty(cursor, tables):
        yield False
        return
    items = _deferred(cursor, tables)
    # Dropping a foreign key alters the table it refers to, which PostgreSQL
    # refuses while deferred checks of that table's new rows are pending (the
    # seed's groups): run them now; the load checks immediately anyway.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for item in items:
        if item.is_constraint:
            cursor.execute(f"ALTER TABLE {item.table} DROP CONSTRAINT {item.name}")
        else:
            cursor.execute(f"DROP INDEX {item.name}")
    yield True
    cursor.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
    # Unique constraints and indexes first: the foreign keys' validating joins
    # then run against a table that has them.
    for item in sorted(items, key=lambda i: " FOREIGN KEY " in i.definition):
        cursor.execute(item.definition)
