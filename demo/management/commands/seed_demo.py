"""``manage.py seed_demo``: the demo accounts, users and fleet (see demo/seed.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from demo import seed as demo_data


class Command(BaseCommand):
    help = (
        "Create the demo accounts (vantiq, northwind), their groups and users, and N "
        "endpoints in a realistic mix of states. Prints the demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--endpoints", type=int, default=2000, help="endpoints to add (default 2,000)"
        )
        parser.add_argument(
            "--password",
            default=demo_data.DEFAULT_PASSWORD,
            help=f"password of every demo user (default {demo_data.DEFAULT_PASSWORD})",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing but print the logins if the demo accounts already exist",
        )

    def handle(self, *args, endpoints: int, password: str, if_empty: bool, **options):
        if endpoints < 0:
            raise CommandError("--endpoints must be 0 or more.")
        if not password:
            raise CommandError("--password must not be empty.")
        if if_empty and demo_data.demo_accounts_exist():
            self.stdout.write("The demo accounts exist already; nothing created.")
            self._print_logins(password, known=False)
            return
        self.stdout.write(f"Seeding {endpoints:,} endpoints…")
        result = demo_data.seed(endpoints=endpoints, password=password, progress=self._progress())
        by_state = ", ".join(
            f"{count:,} {state}" for state, count in sorted(result.by_state.items())
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {result.endpoints:,} endpoints ({by_state}), {result.imsis:,} IMSIs, "
                f"{result.addresses:,} IP addresses, {result.memberships:,} secondary "
                f"memberships, {result.history:,} history rows, {result.events:,} network "
                f"events, {result.usage_days:,} days of endpoint usage in {result.seconds:.1f} s."
            )
        )
        if result.no_address:
            self.stdout.write(
                self.style.WARNING(f"{result.no_address:,} endpoints got no address: subnet full.")
            )
        self._print_logins(password, known=True)

    def _progress(self):
        shown = {"step": -1}

        def report(done: int, total: int, seconds: float) -> None:
            step = done * 20 // total  # a line every 5 %
            if step != shown["step"] or done == total:
                shown["step"] = step
                self.stdout.write(f"  {done:>12,} / {total:,} endpoints  {seconds:7.1f} s")

        return report

    def _print_logins(self, password: str, *, known: bool) -> None:
        rows = demo_data.logins()
        width = max(len(row.username) for row in rows)
        role_width = max(len(row.role) for row in rows)
        self.stdout.write("")
        self.stdout.write(f"{'username':<{width}}  {'role':<{role_width}}  account")
        for row in rows:
            self.stdout.write(f"{row.username:<{width}}  {row.role:<{role_width}}  {row.account}")
        note = "" if known else " (as given when the demo data was created)"
        self.stdout.write(f"password for all: {password}{note}")
        self.stdout.write("Portal: http://127.0.0.1:8000/   Admin: http://127.0.0.1:8000/admin/")
