"""``manage.py purge_invitations [--dry-run]``: delete pending invitations past
their 24 hours (team/retention.py); the worker runs the same purge daily."""

from django.core.management.base import BaseCommand

from team import retention


class Command(BaseCommand):
    help = "Delete pending invitations older than 24 hours (their links no longer work)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would be deleted"
        )

    def handle(self, *args, dry_run: bool, **options):
        if dry_run:
            count = retention.expired_invitations().count()
            self.stdout.write(f"Would delete {count:,} expired invitations.")
            return
        deleted = retention.purge_expired_invitations()
        self.stdout.write(f"Deleted {deleted:,} expired invitations.")
