from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The customers' REST API under /api/v1/ (docs/api.md) and its tokens."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "Customer API"

    def ready(self) -> None:
        from api import checks  # noqa: F401  (registers the deploy check)
