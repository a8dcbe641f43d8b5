"""Absolute links for e-mails (password reset, invitation): built on
``PORTAL_BASE_URL``, the portal's public origin, never on the request's Host
header. ``ALLOWED_HOSTS`` does not look at the port, so a request with
``Host: portal.example.com:6666`` is served, and a link built from it would
send the recipient, token and all, to a port of the attacker's choosing.

Without the setting (development, tests) the request's own address is used;
``manage.py check --deploy`` warns about that (portal/checks.py)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def base_url(request: HttpRequest) -> str:
    """``scheme://host[:port]`` of links in e-mails, without a trailing slash."""
    configured = getattr(settings, "PORTAL_BASE_URL", "")
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.get_host()}"


def absolute(request: HttpRequest, path: str) -> str:
    """``path`` (from ``reverse``) as a link for an e-mail."""
    return base_url(request) + path
