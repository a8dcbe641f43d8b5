"""``manage.py import_sims --account <slug> FILE.csv``: allocate a batch of SIMs
to an account; ``manage.py import_sims --stock FILE.csv``: load SIMs into stock
for self-service activation (all or nothing; see inventory/sim_import.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.history import Actor
from inventory.sim_import import ImportRejected, import_sims, import_stock
from portal.models import Account


class Command(BaseCommand):
    help = (
        "Import SIMs from a CSV file (columns iccid, imsis separated by ';', name, reference, "
        "tags) into an account as Pending endpoints, or with --stock (columns iccid, imsis, "
        "activation_code) into stock, to be activated by a customer. Nothing is written unless "
        "every line is valid; every bad line is reported with its number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (UTF-8, header line first)")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--account", help="slug of the receiving account")
        target.add_argument(
            "--stock",
            action="store_true",
            help="load the SIMs into stock with their activation codes (stored hashed)",
        )
        parser.add_argument(
            "--waive-check-digit",
            action="store_true",
            help="accept ICCIDs whose Luhn check digit is wrong (some suppliers' batches)",
        )

    def handle(
        self, *args, file: str, account: str | None, stock: bool, waive_check_digit: bool, **kw
    ):
        target = None
        if not stock:
            try:
                target = Account.objects.get(slug=account)
            except Account.DoesNotExist as exc:
                raise CommandError(f"No account with the slug “{account}”.") from exc
        try:
            handle = open(file, "rb")  # noqa: SIM115 - closed below, after the import
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        try:
            with handle:
                if stock:
                    result = import_stock(
                        handle, waive_check_digit=waive_check_digit, progress=self._progress
                    )
                else:
                    result = import_sims(
                        handle,
                        account=target,
                        actor=Actor.SYSTEM,
                        waive_check_digit=waive_check_digit,
                        progress=self._progress,
                    )
        except ImportRejected as rejected:
            for error in rejected.errors:
                self.stderr.write(f"{file}: {error}")
            raise CommandError(str(rejected)) from rejected
        where = "" if stock else f" into {target.name}"
        batch = "" if stock else f" (batch {result.batch})"
        self.stdout.write(
            self.style.SUCCESS(f"{result.summary()}{where} in {result.seconds:.1f} s{batch}.")
        )

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stdout.write(f"  {stage}: {done:,} / {total:,} lines")
