"""The address a request came from: what the sign-in lock-out counts failures
by, and what the access log (and later the audit log) records.

Without a proxy (``TRUSTED_PROXY_COUNT=0``, the default) it is ``REMOTE_ADDR``,
and an ``X-Forwarded-For`` header is the client's own words, ignored. Behind
N trusted proxies, each appends the address it was connected from to
``X-Forwarded-For``, so the client is the N-th address from the right; whatever
stands further left was sent by the client and is never read. Taking
``REMOTE_ADDR`` behind the proxy made every client the proxy, and five wrong
passwords from anywhere locked a user out for everyone (#10).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _address(text: str) -> str | None:
    """``text`` as a canonical IP address, or None."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's IP address for this request (None when even ``REMOTE_ADDR``
    is not an address, e.g. a Unix socket without a proxy)."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(hops) < proxies:
        # Not through all of our proxies: the peer itself is the client.
        return remote
    return _address(hops[-proxies]) or remote
