"""Django admin for provider support (registered on import by Django's autodiscovery)."""

from inventory.admin import activation, registrations  # noqa: F401
