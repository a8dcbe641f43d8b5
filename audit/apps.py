from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # Sign-ins and failed sign-ins come from Django's auth signals.
        from audit import signals  # noqa: F401
