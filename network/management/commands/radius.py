"""``manage.py radius``: the RADIUS server for the packet core (docs/radius.md).

Authentication on ``RADIUS_BIND``:``RADIUS_AUTH_PORT`` (1812) and accounting on
``RADIUS_ACCT_PORT`` (1813), answered from batches decided by the network API's
batch code. A service of its own beside the web processes and the worker
(docs/production.md "RADIUS"); SIGTERM or Ctrl-C stops it after the batches in
progress are answered.
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand

from network.radius.server import RadiusServer


class Command(BaseCommand):
    help = "Serve RADIUS authentication and accounting for the packet core."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=None, help="Address to listen on (RADIUS_BIND).")
        parser.add_argument("--auth-port", type=int, default=None, help="0 picks a free port.")
        parser.add_argument("--acct-port", type=int, default=None, help="0 picks a free port.")

    def handle(self, *args, bind, auth_port, acct_port, **options):
        server = RadiusServer(
            bind=bind or settings.RADIUS_BIND,
            auth_port=settings.RADIUS_AUTH_PORT if auth_port is None else auth_port,
            acct_port=settings.RADIUS_ACCT_PORT if acct_port is None else acct_port,
        )

        def ready(server: RadiusServer) -> None:
            self.stdout.write(
                f"RADIUS listening on {server.bind}: auth {server.bound['auth']}, "
                f"acct {server.bound['acct']}"
            )
            self.stdout.flush()

        asyncio.run(server.run(ready=ready))
        self.stdout.write(f"RADIUS stopped: {server.counters.line() or 'no packets'}")
