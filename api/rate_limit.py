"""The request limits of the customer API.

A fixed window per key, counted in Django's cache with ``add`` + ``incr``
(both atomic in Redis and in the local-memory cache), so every web worker that
shares the cache shares the count: ``REDIS_URL`` is the production setting
(docs/production.md; ``manage.py check --deploy`` warns without it), else each
worker process counts on its own.

- Per token: ``API_RATE_LIMIT`` requests per ``API_RATE_WINDOW`` seconds.
- Per client address, for requests with no token or a bad one (they reach no
  token's limit): ``API_ANONYMOUS_RATE_LIMIT`` per ``API_ANONYMOUS_RATE_WINDOW``.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import caches


def _cache():
    return caches[getattr(settings, "API_RATE_CACHE", "default")]


def limit() -> tuple[int, int]:
    """(requests, window seconds) of a token, from the settings."""
    return int(settings.API_RATE_LIMIT), int(settings.API_RATE_WINDOW)


def anonymous_limit() -> tuple[int, int]:
    """(requests, window seconds) of one address without a valid token."""
    return int(settings.API_ANONYMOUS_RATE_LIMIT), int(settings.API_ANONYMOUS_RATE_WINDOW)


def _count(key: str, allowed: int, window: int, now: float | None) -> int | None:
    """Count one request under ``key``; the seconds to wait if over, else None."""
    now = time.time() if now is None else now
    start = math.floor(now / window) * window
    key = f"{key}:{int(start)}"
    cache = _cache()
    # add() creates the window's counter once; incr() is atomic after that.
    if cache.add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # the counter expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            count = 1
    if count <= allowed:
        return None
    return max(1, math.ceil(start + window - now))


def retry_after(token_id: int, *, now: float | None = None) -> int | None:
    """Count one request of the token; the seconds to wait if it is over its
    limit, else None."""
    return _count(f"api-rate:{token_id}", *limit(), now)


def anonymous_retry_after(ip: str, *, now: float | None = None) -> int | None:
    """Count one request without a valid token from ``ip``; the seconds to
    wait if the address is over its limit, else None."""
    return _count(f"api-rate:anonymous:{ip}", *anonymous_limit(), now)
