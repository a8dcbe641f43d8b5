"""``manage.py purge_terminated [--dry-run]``: delete endpoints terminated more
than 90 days ago (run daily from cron; see inventory/retention.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.retention import BATCH, purge_terminated


class Command(BaseCommand):
    help = (
        "Delete endpoints terminated more than 90 days ago, with their IMSIs, IP addresses, "
        "secondary memberships, history and session teardowns. Safe to rerun."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )
        parser.add_argument(
            "--batch-size", type=int, default=BATCH, help=f"endpoints per transaction ({BATCH:,})"
        )

    def handle(self, *args, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = purge_terminated(dry_run=dry_run, batch_size=batch_size, progress=self._progress)
        verb = "would be deleted" if dry_run else "deleted"
        when = f"terminated before {result.cutoff:%Y-%m-%d %H:%M} UTC"
        if not result.endpoints:
            self.stdout.write(f"No endpoints {when}; nothing {verb}.")
            return
        for slug, count in sorted(result.by_account.items()):
            self.stdout.write(f"{slug}: {count:,} endpoints {verb}")
        details = ", ".join(f"{count:,} {name}" for name, count in result.rows.items())
        total = f"{result.endpoints:,} endpoints {when} {verb}"
        self.stdout.write(self.style.SUCCESS(f"{total}" + (f" ({details})." if details else ".")))

    def _progress(self, done: int) -> None:
        self.stdout.write(f"  {done:,} deleted so far")
