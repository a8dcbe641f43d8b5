"""``manage.py purge_activation_failures [--days 30] [--dry-run]``; the worker
runs the same purge daily (jobs/tasks.py).

Refused activations count for the brute-force limits for one hour; staff read
them in the admin for a month. Older ones, and blocks that ended as long ago,
are deleted in short batches (``inventory.retention``)."""

from __future__ import annotations

from inventory.retention import (
    ACTIVATION_RETENTION_DAYS,
    ACTIVATION_TABLES,
    purge_activation_failures,
)
from portal.purge_command import PurgeOlderThanCommand


class Command(PurgeOlderThanCommand):
    help = "Delete refused activations (and ended blocks) older than --days (default 30)."
    tables = ACTIVATION_TABLES
    days = ACTIVATION_RETENTION_DAYS
    purge = staticmethod(purge_activation_failures)
