"""Compare every derived table with its source rows, report drift, repair it."""

from django.core.management.base import BaseCommand, CommandError

from usage.derived import rebuild_all


class Command(BaseCommand):
    help = (
        "Rebuild the state counts, address blocks and search copy from the source rows "
        "and report any drift (docs/usage.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="only report; exit 1 when anything drifted"
        )

    def handle(self, *args, check: bool = False, **options):
        drifts = rebuild_all(repair=not check)
        for drift in drifts:
            self.stdout.write(drift.describe())
        drifted = sum(drift.total for drift in drifts)
        if drifted and check:
            raise CommandError(f"{drifted} derived row(s) differ from the source rows")
        if drifted:
            self.stdout.write(f"Repaired {drifted} derived row(s).")
        else:
            self.stdout.write("Every derived table is exact.")
