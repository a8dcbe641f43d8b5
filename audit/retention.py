"""How long the audit log is kept, and the purge (docs/audit-log.md).

Rows older than ``RETENTION`` are deleted daily by the worker
(``audit.purge_audit_log`` in audit/tasks.py) and by ``manage.py
purge_audit_log``, in batches of ids, one short transaction each, so the purge
never locks much of the table and can be stopped and rerun at any time
(``portal.batch_delete``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from audit.models import AuditEvent
from portal.batch_delete import delete_before

#: The audit log keeps a year.
RETENTION = timedelta(days=365)
RETENTION_DAYS = RETENTION.days
BATCH = 10_000


def purge_audit_log(*, cutoff: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the rows created before ``cutoff`` (a year ago unless given);
    return how many went."""
    cutoff = cutoff or timezone.now() - RETENTION
    return delete_before(
        table=AuditEvent._meta.db_table, column="created_at", cutoff=cutoff, batch_size=batch
    )
