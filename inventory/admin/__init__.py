"""Django admin for provider support (registered on import by Django's autodiscovery)."""

from inventory.admin import registrations  # noqa: F401
