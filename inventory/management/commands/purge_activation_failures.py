"""``manage.py purge_activation_failures [--days 30] [--dry-run]``; the worker
runs the same purge daily (jobs/tasks.py).

Refused activations count for the brute-force limits for one hour; staff read
them in the admin for a month. Older ones, and blocks that ended as long ago,
are deleted in short batches (``inventory.retention``)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from inventory.retention import (
    ACTIVATION_RETENTION_DAYS,
    ACTIVATION_TABLES,
    purge_activation_failures,
)


class Command(BaseCommand):
    help = "Delete refused activations (and ended blocks) older than --days (default 30)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=ACTIVATION_RETENTION_DAYS, help="keep this many days (30)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )

    def handle(self, *args, days: int, dry_run: bool, **options):
        if days < 1:
            raise CommandError("--days must be 1 or more.")
        cutoff = timezone.now() - timedelta(days=days)
        if dry_run:
            for label, model, column in ACTIVATION_TABLES:
                count = model.objects.filter(**{f"{column}__lt": cutoff}).count()
                self.stdout.write(f"Would delete {count:,} {label} older than {days} days.")
            return
        for label, count in purge_activation_failures(cutoff=cutoff).items():
            self.stdout.write(f"Deleted {count:,} {label} older than {days} days.")
