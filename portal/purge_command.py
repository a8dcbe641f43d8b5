"""The shape of a command that deletes a few tables' rows older than ``--days``
(``purge_network_events``, ``purge_activation_failures``): the options, their
checks, the dry run and the report, one line a table.

A command names its help, its tables, the default of ``--days``, optionally
the default of ``--batch-size`` (without it, the command has no such option and
the purge uses its own batch), and the purge its worker task runs too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.batch_delete import Tables, count_tables_before


class PurgeOlderThanCommand(BaseCommand):
    #: (label, model, time column) of what ``purge`` deletes; the dry run counts these.
    tables: Tables
    #: The default of ``--days``.
    days: int
    #: The default of ``--batch-size``; None: the command has no such option.
    batch_size: int | None = None
    #: The purge: given ``cutoff`` (and ``batch_size`` with that option), counts by label.
    purge: Callable[..., dict[str, int]]

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=self.days, help=f"keep this many days ({self.days})"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )
        if self.batch_size is not None:
            parser.add_argument(
                "--batch-size",
                type=int,
                default=self.batch_size,
                help=f"rows per DELETE ({self.batch_size:,})",
            )

    def handle(self, *args, days: int, dry_run: bool, **options):
        if days < 1:
            raise CommandError("--days must be 1 or more.")
        batch = {}
        if self.batch_size is not None:
            if options["batch_size"] < 1:
                raise CommandError("--batch-size must be 1 or more.")
            batch = {"batch_size": options["batch_size"]}
        cutoff: datetime = timezone.now() - timedelta(days=days)
        if dry_run:
            for label, count in count_tables_before(self.tables, cutoff=cutoff).items():
                self.stdout.write(f"Would delete {count:,} {label} older than {days} days.")
            return
        for label, count in self.purge(cutoff=cutoff, **batch).items():
            self.stdout.write(f"Deleted {count:,} {label} older than {days} days.")
