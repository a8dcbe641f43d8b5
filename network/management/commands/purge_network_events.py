"""``manage.py purge_network_events [--days 30] [--dry-run]``, run daily by cron.

Network events are kept 30 days. The old ones are deleted in batches of a few
thousand rows, each its own short transaction (``inventory.retention``, which the
worker's daily task calls too). Session teardowns older than that are purged
alike: the core has read them long before.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from inventory.retention import (
    EVENT_BATCH,
    EVENT_RETENTION_DAYS,
    EVENT_TABLES,
    purge_network_events,
)


class Command(BaseCommand):
    help = "Delete network events (and session teardowns) older than --days (default 30)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=EVENT_RETENTION_DAYS, help="keep this many days (30)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )
        parser.add_argument(
            "--batch-size", type=int, default=EVENT_BATCH, help="rows per DELETE (10,000)"
        )

    def handle(self, *args, days: int, dry_run: bool, batch_size: int, **options):
        if days < 1:
            raise CommandError("--days must be 1 or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        cutoff = timezone.now() - timedelta(days=days)
        if dry_run:
            for label, model, column in EVENT_TABLES:
                count = model.objects.filter(**{f"{column}__lt": cutoff}).count()
                self.stdout.write(f"Would delete {count:,} {label} older than {days} days.")
            return
        for label, count in purge_network_events(cutoff=cutoff, batch_size=batch_size).items():
            self.stdout.write(f"Deleted {count:,} {label} older than {days} days.")
