"""``manage.py purge_network_events [--days 30] [--dry-run]``, run daily by cron.

Network events are kept 30 days. The old ones are deleted in batches of a few
thousand rows, each its own short transaction, so that a purge of millions of
rows never holds long locks nor one huge transaction beside the live API.
Session teardowns older than that are purged alike: the core has read them
long before.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from inventory.models import NetworkEvent, SessionTeardown

BATCH_SIZE = 10_000


def purge_before(*, table: str, column: str, cutoff, batch_size: int = BATCH_SIZE) -> int:
    """Delete rows of ``table`` whose ``column`` is before ``cutoff``, batch by batch."""
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                DELETE FROM {table}
                 WHERE id IN (SELECT id FROM {table} WHERE {column} < %s LIMIT %s)
                """,
                [cutoff, batch_size],
            )
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            return deleted


class Command(BaseCommand):
    help = "Delete network events (and session teardowns) older than --days (default 30)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="keep this many days (30)")
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help="rows per DELETE (10,000)"
        )

    def handle(self, *args, days: int, dry_run: bool, batch_size: int, **options):
        if days < 1:
            raise CommandError("--days must be 1 or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        cutoff = timezone.now() - timedelta(days=days)
        targets = [
            ("network events", NetworkEvent, "received_at"),
            ("session teardowns", SessionTeardown, "at"),
        ]
        for label, model, column in targets:
            if dry_run:
                count = model.objects.filter(**{f"{column}__lt": cutoff}).count()
                self.stdout.write(f"Would delete {count:,} {label} older than {days} days.")
            else:
                count = purge_before(
                    table=model._meta.db_table, column=column, cutoff=cutoff, batch_size=batch_size
                )
                self.stdout.write(f"Deleted {count:,} {label} older than {days} days.")
