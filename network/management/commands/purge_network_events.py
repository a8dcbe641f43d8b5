"""``manage.py purge_network_events [--days 30] [--dry-run]``, run daily by cron.

Network events are kept 30 days. The old ones are deleted in batches of a few
thousand rows, each its own short transaction (``inventory.retention``, which the
worker's daily task calls too). Session teardowns older than that are purged
alike: the core has read them long before.
"""

from __future__ import annotations

from inventory.retention import (
    EVENT_BATCH,
    EVENT_RETENTION_DAYS,
    EVENT_TABLES,
    purge_network_events,
)
from portal.purge_command import PurgeOlderThanCommand


class Command(PurgeOlderThanCommand):
    help = "Delete network events (and session teardowns) older than --days (default 30)."
    tables = EVENT_TABLES
    days = EVENT_RETENTION_DAYS
    batch_size = EVENT_BATCH
    purge = staticmethod(purge_network_events)
