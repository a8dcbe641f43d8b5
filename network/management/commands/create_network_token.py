"""``manage.py create_network_token <name>``: a bearer token for the packet core.

The token is printed once, on the last line, so that scripts can take it with
``tail -n 1``; only its hash is stored. ``--disable <name>`` switches a token
off at once (the API refuses it from the next request).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inventory.models import NetworkToken
from network.tokens import create_token


class Command(BaseCommand):
    help = (
        "Create a network API token named NAME and print it on the last line (shown once), "
        "or disable one with --disable."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="a name saying which core or site uses the token")
        parser.add_argument(
            "--disable", action="store_true", help="disable the token NAME instead of creating one"
        )

    def handle(self, *args, name: str, disable: bool, **options):
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("The name must have 1 to 100 characters.")
        if disable:
            if not NetworkToken.objects.filter(name=name).update(enabled=False):
                raise CommandError(f"There is no token named “{name}”.")
            self.stdout.write(f"Token “{name}” disabled; the API refuses it from now on.")
            return
        if NetworkToken.objects.filter(name=name).exists():
            raise CommandError(
                f"A token named “{name}” exists already; choose another name "
                "(or disable the old one with --disable)."
            )
        _, token = create_token(name)
        self.stdout.write(
            f"Token “{name}” created. Send it as 'Authorization: Bearer <token>'; "
            "it is not stored and cannot be shown again:"
        )
        self.stdout.write(token)
