"""``manage.py simulate_network --url http://127.0.0.1:8000 --token T``: realistic
network traffic for a running portal (see demo/simulator.py).

It reads the chosen account's in-service endpoints from the database, posts
their events to the URL given (and nowhere else) until ``--duration`` is up,
and prints a summary line every second. With ``--rate 0 --batch 500
--concurrency 3`` it is also the load test of the network API.

With ``--radius`` it speaks RADIUS instead, as a gateway would
(network/radius/gateway.py): sessions authorised by Access-Request, then
accounted with Start, Interim-Updates and Stop, sent to ``--radius-host`` with
the client secret ``--secret`` (default ``$RADIUS_SECRET``).
"""

from __future__ import annotations

import os
import statistics
import time
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from demo import simulator

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
            "--radius", action="store_true", help="speak RADIUS to `manage.py radius` instead"
        )
        parser.add_argument("--radius-host", default="127.0.0.1")
        parser.add_argument("--auth-port", type=int, default=1812)
        parser.add_argument("--acct-port", type=int, default=1813)
        parser.add_argument(
            "--secret",
            default=os.environ.get("RADIUS_SECRET", ""),
            help="the RADIUS client's shared secret (default: $RADIUS_SECRET)",
        )
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
        if options["radius"] and not options["secret"]:
            raise CommandError("Give --secret (or set RADIUS_SECRET); see create_radius_client.")
        if not options["token"] and not options["radius"]:
            raise CommandError("Give --token (or set NETWORK_TOKEN); see create_network_token.")
        if not 0 < options["duration"] <= MAX_DURATION:
            raise CommandError(f"--duration must be between 1 and {MAX_DURATION:,} seconds.")
        if options["rate"] < 0:
            raise CommandError("--rate must be 0 (flat out) or more.")
        if not 1 <= options["batch"] <= 1000:
            raise CommandError("--batch must be between 1 and 1,000.")
        most = 200 if options["radius"] else 16
        if not 1 <= options["concurrency"] <= most:
            raise CommandError(f"--concurrency must be between 1 and {most}.")
        if options["devices"] < 1:
            raise CommandError("--devices must be 1 or more.")

        devices = simulator.load_devices(account_slug=options["account"], limit=options["devices"])
        if not devices:
            raise CommandError(
                f"Account “{options['account']}” has no in-service endpoints to simulate."
            )
        if options["radius"]:
            self._radius(devices, options)
            return
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

    def _radius(self, devices, options) -> None:
        from network.radius import gateway
        from network.radius.loops import run_to_completion

        target = f"{options['radius_host']}:{options['auth_port']}/{options['acct_port']}"
        self.stdout.write(
            f"Simulating {len(devices):,} endpoints of {options['account']} as a RADIUS "
            f"gateway against {target} for {options['duration']:,.0f} s, "
            f"{options['concurrency']} sender(s)."
        )
        sim = gateway.Gateway(
            host=options["radius_host"],
            auth_port=options["auth_port"],
            acct_port=options["acct_port"],
            secret=options["secret"],
            devices=[
                gateway.Device(imsi=d.imsi, imei=d.imei, apn=d.apns[0] if d.apns else "")
                for d in devices
            ],
            senders=options["concurrency"],
            seed=options["seed"],
        )

        def report(totals, elapsed):
            answers = ", ".join(f"{k} {v:,}" for k, v in sorted(totals.answers.items()))
            self.stdout.write(f"{elapsed:5.0f} s  {answers}  timeouts {totals.timeouts:,}")

        totals = run_to_completion(
            sim.run(duration=options["duration"], rate=options["rate"], report=report)
        )
        answered = sum(totals.answers.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Total: {answered:,} answers, {totals.timeouts:,} timeouts "
                f"({dict(totals.sent)} requests sent)."
            )
        )
        if not answered:
            raise CommandError("The RADIUS server answered nothing (address, ports, secret?).")
