"""``manage.py create_radius_client NAME --address CIDR [--secret S] [--coa-port N]``:
add a NAS to the RADIUS clients (docs/radius.md "Clients"). Without ``--secret``
one is generated; the secret is printed on the last line, the only time it is
shown."""

from __future__ import annotations

import ipaddress

from django.core.management.base import BaseCommand, CommandError

from network.models import RadiusClient
from network.radius import secrets


class Command(BaseCommand):
    help = "Add a RADIUS client (NAS); prints its shared secret on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--address", required=True, help="The NAS's IPv4 address or network (CIDR)."
        )
        parser.add_argument("--secret", default=None, help="Shared secret; generated if omitted.")
        parser.add_argument("--coa-port", type=int, default=3799)
        parser.add_argument(
            "--no-message-authenticator",
            action="store_true",
            help="Accept Access-Requests without Message-Authenticator (a legacy NAS only).",
        )

    def handle(self, *args, name, address, secret, coa_port, no_message_authenticator, **options):
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("A name has 1 to 100 characters.")
        try:
            network = ipaddress.IPv4Network(address.strip(), strict=True)
        except ValueError as exc:
            raise CommandError(
                f"{address!r} is not a network: give an address or CIDR such as 10.0.0.5/32 "
                "(host bits zero)."
            ) from exc
        if not 1 <= coa_port <= 65535:
            raise CommandError("--coa-port is between 1 and 65535.")
        if secret is None:
            secret = secrets.generate()
        elif problem := secrets.check(secret):
            raise CommandError(problem)
        if RadiusClient.objects.filter(name=name).exists():
            raise CommandError(f"A RADIUS client named {name!r} exists already.")
        if RadiusClient.objects.filter(address=str(network)).exists():
            raise CommandError(f"A RADIUS client for {network} exists already.")
        client = RadiusClient(
            name=name,
            address=str(network),
            coa_port=coa_port,
            require_message_authenticator=not no_message_authenticator,
        )
        client.set_secret(secret)
        client.save()
        self.stdout.write(f"RADIUS client {client.name} ({client.address}) added.")
        self.stdout.write(secret)
