"""``manage.py simulate_network --url http://127.0.0.1:8000 --token T``: realistic
network traffic for a running portal (see inventory/demo/simulator.py).

It reads the chosen account's in-service endpoints from the database, posts
their events to the URL given (and nowhere else) until ``--duration`` is up,
and prints a summary line every second. With ``--rate 0 --batch 500
--concurrency 3`` it is also the load test of the network API.
"""

from __future__ import annotations

import os
import statistics
import time
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from inventory.demo import simulator

MAX_DURATION = 24 * 3600


class Command(BaseCommand):
    help = (
        "Post realistic network events (attach, sessions, detach, wrong IMEIs) for an "
        "account's endpoints to a running portal and print a live summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the portal's base URL")
        parser.add_argument(
            "--token",
            default=os.environ.get("NETWORK_TOKEN", ""),
            help="network API token (default: $NETWORK_TOKEN)",
        )
        parser.add_argument("--account", default="vantiq", help="account slug (vantiq)")
        parser.add_argument(
            "--rate", type=float, default=200, help="events per second (200; 0 = flat out)"
        )
        parser.add_argument("--duration", type=float, default=60, help="seconds to run (60)")
        parser.add_argument("--batch", type=int, default=100, help="most events per request")
        parser.add_argument("--concurrency", type=int, default=1, help="requests in flight")
        parser.add_argument(
            "--devices", type=int, default=20_000, help="most endpoints to simulate (20,000)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed")
        parser.add_argument(
            "--quiet", action="store_true", help="a summary line a minute, not a second"
        )

    _last_line = 0.0

    def _every_minute(self, line: str) -> None:
        now = time.monotonic()
        if now - self._last_line >= 60:
            self._last_line = now
            self.stdout.write(line)

    def handle(self, *args, **options):
        url = options["url"].rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CommandError("--url must be an http(s) URL such as http://127.0.0.1:8000.")
        if not options["token"]:
            raise CommandError("Give --token (or set NETWORK_TOKEN); see create_network_token.")
        if not 0 < options["duration"] <= MAX_DURATION:
            raise CommandError(f"--duration must be between 1 and {MAX_DURATION:,} seconds.")
        if options["rate"] < 0:
            raise CommandError("--rate must be 0 (flat out) or more.")
        if not 1 <= options["batch"] <= 1000:
            raise CommandError("--batch must be between 1 and 1,000.")
        if not 1 <= options["concurrency"] <= 16:
            raise CommandError("--concurrency must be between 1 and 16.")
        if options["devices"] < 1:
            raise CommandError("--devices must be 1 or more.")

        devices = simulator.load_devices(account_slug=options["account"], limit=options["devices"])
        if not devices:
            raise CommandError(
                f"Account “{options['account']}” has no in-service endpoints to simulate."
            )
        locked = sum(device.locked for device in devices)
        rate = f"{options['rate']:,.0f} events/s" if options["rate"] else "as fast as it answers"
        self.stdout.write(
            f"Simulating {len(devices):,} endpoints of {options['account']} ({locked:,} "
            f"IMEI-locked) against {url} for {options['duration']:,.0f} s, {rate}, "
            f"batches of up to {options['batch']}, {options['concurrency']} in flight."
        )
        started = time.monotonic()
        totals = simulator.run(
            base_url=url,
            token=options["token"],
            devices=devices,
            rate=options["rate"],
            duration=options["duration"],
            batch=options["batch"],
            concurrency=options["concurrency"],
            seed=options["seed"],
            write=self._every_minute if options["quiet"] else self.stdout.write,
        )
        elapsed = time.monotonic() - started
        events, statuses, errors = totals.snapshot()
        median = statistics.median(totals.latencies) * 1000 if totals.latencies else 0.0
        self.stdout.write(
            self.style.SUCCESS(
                f"Total: {events:,} events in {elapsed:.1f} s = {events / elapsed:,.0f} events/s "
                f"over {totals.requests:,} requests (median {median:.0f} ms per request)."
            )
        )
        self.stdout.write(simulator.summary_line(elapsed, events / elapsed, statuses, errors))
        if totals.last_error:
            self.stderr.write(f"Last error: {totals.last_error}")
            if not events:
                raise CommandError("No event was accepted by the portal.")
