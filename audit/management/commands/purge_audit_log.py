"""Delete audit rows older than a year (audit/retention.py); the worker runs the
same purge daily."""

from django.core.management.base import BaseCommand

from audit import retention


class Command(BaseCommand):
    help = f"Delete audit log rows older than {retention.RETENTION_DAYS} days."

    def handle(self, *args, **options):
        deleted = retention.purge_audit_log()
        self.stdout.write(f"{deleted} audit rows deleted.")
