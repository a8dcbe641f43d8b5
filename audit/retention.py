"""How long the audit log is kept, and the purge (docs/audit-log.md).

Rows older than ``RETENTION`` are deleted daily by the worker
(``audit.purge_audit_log`` in audit/tasks.py) and by ``manage.py
purge_audit_log``, in batches of ids, one short transaction each, so the purge
never locks much of the table and can be stopped and rerun at any time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent

#: The audit log keeps a year.
RETENTION = timedelta(days=365)
RETENTION_DAYS = RETENTION.days
BATCH = 10_000

_TABLE = connection.ops.quote_name(AuditEvent._meta.db_table)


def purge_audit_log(*, cutoff: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the rows created before ``cutoff`` (a year ago unless given);
    return how many went."""
    cutoff = cutoff or timezone.now() - RETENTION
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {_TABLE} WHERE id IN ("
                f"SELECT id FROM {_TABLE} WHERE created_at < %(cutoff)s LIMIT %(batch)s)",
                {"cutoff": cutoff, "batch": batch},
            )
            count = cursor.rowcount
        deleted += count
        if count < batch:
            return deleted
