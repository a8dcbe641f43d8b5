"""The portal's own deploy checks (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def base_url_is_set(app_configs, **kwargs) -> list[Warning]:
    """E-mailed links come from the request's Host header without it (portal/links.py)."""
    if getattr(settings, "PORTAL_BASE_URL", ""):
        return []
    return [
        Warning(
            "PORTAL_BASE_URL is not set: password-reset and invitation links are built "
            "from the request's Host header, whose port a client chooses.",
            hint="Set PORTAL_BASE_URL to the portal's public origin, e.g. "
            "https://portal.example.com (docs/production.md).",
            id="portal.W001",
        )
    ]
