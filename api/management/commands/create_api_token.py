"""Create an API token for an account, as provider staff: the token is printed
on the last line, once (docs/api.md); the account's audit log has its row
(actor kind "system")."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

import audit
from api.tokens import TokenRefused, create_token
from audit.events import AuditActor
from audit.models import AuditAction
from portal.models import Account, Role


class Command(BaseCommand):
    help = "Create an API token of an account with a role; prints the token on its last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the token is for.")
        parser.add_argument("--account", required=True, help="The account's slug.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--expires-in-days", type=int, default=None, help="Optional lifetime in days."
        )

    def handle(self, *args, name, account, role, expires_in_days, **options):
        found = Account.objects.filter(slug=account).first()
        if found is None:
            raise CommandError(f"No account with slug “{account}”.")
        expires_at = None
        if expires_in_days is not None:
            if expires_in_days < 1:
                raise CommandError("--expires-in-days must be 1 or more.")
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        try:
            with transaction.atomic():
                token, plain = create_token(
                    account=found,
                    name=name,
                    role=role,
                    created_by=None,
                    creator_role=None,
                    expires_at=expires_at,
                )
                audit.record(
                    action=AuditAction.API_TOKEN_CREATED,
                    account=found,
                    actor=AuditActor.system("manage.py create_api_token"),
                    target=token.name,
                    details={"token": token.pk, "role": token.role, "by": "create_api_token"},
                )
        except TokenRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Token “{token.name}” ({token.get_role_display()}) created for {found.name}; "
            "it is shown once:"
        )
        self.stdout.write(plain)
