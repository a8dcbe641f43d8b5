"""Deleting the rows of a table older than a cutoff, batch by batch.

The logs (network events, refused activations, the audit log, ...) grow by
millions of rows and are purged beside the live portal and API. One DELETE of
them all would hold its locks, and one huge transaction, for minutes; here each
batch of ids is its own short transaction, and a purge stopped half way is simply
run again: each batch re-selects what is still too old.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Model

#: What a purge of several tables deletes: (label, model, time column) each.
Tables = tuple[tuple[str, type[Model], str], ...]


def delete_before(*, table: str, column: str, cutoff: datetime, batch_size: int) -> int:
    """Delete the rows of ``table`` whose ``column`` is before ``cutoff``, at
    most ``batch_size`` a transaction; how many went."""
    table, column = connection.ops.quote_name(table), connection.ops.quote_name(column)
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                DELETE FROM {table}
                 WHERE id IN (SELECT id FROM {table} WHERE {column} < %(cutoff)s
                              LIMIT %(batch)s)
                """,
                {"cutoff": cutoff, "batch": batch_size},
            )
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            return deleted


def delete_tables_before(tables: Tables, *, cutoff: datetime, batch_size: int) -> dict[str, int]:
    """``delete_before`` for each of ``tables``, in their order; counts by label."""
    return {
        label: delete_before(
            table=model._meta.db_table, column=column, cutoff=cutoff, batch_size=batch_size
        )
        for label, model, column in tables
    }


def count_tables_before(tables: Tables, *, cutoff: datetime) -> dict[str, int]:
    """What ``delete_tables_before`` would delete now; counts by label."""
    return {
        label: model.objects.filter(**{f"{column}__lt": cutoff}).count()
        for label, model, column in tables
    }
