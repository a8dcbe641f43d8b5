"""The deploy check of the API's limits (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches, deploy=True)
def rate_limits_are_shared(app_configs, **kwargs) -> list[Warning]:
    """Without REDIS_URL each web worker process counts the API's limits on its
    own: with N workers a token gets N times its limit, and so does an address."""
    if getattr(settings, "REDIS_URL", ""):
        return []
    return [
        Warning(
            "REDIS_URL is not set: every web worker process counts the API's rate limits "
            "on its own.",
            hint="Set REDIS_URL (e.g. redis://127.0.0.1:6379/0), the production default "
            "(docs/production.md).",
            id="api.W001",
        )
    ]
