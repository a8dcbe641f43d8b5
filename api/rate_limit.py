"""The per-token request limit of the customer API.

A fixed window per token, counted in Django's cache with ``add`` + ``incr``
(both atomic in Redis and in the local-memory cache), so every web worker that
shares the cache shares the count: configure ``REDIS_URL`` in production, or each
worker process counts on its own (docs/api.md, docs/production.md). The limit is
``API_RATE_LIMIT`` requests per ``API_RATE_WINDOW`` seconds.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import caches


def _cache():
    return caches[getattr(settings, "API_RATE_CACHE", "default")]


def limit() -> tuple[int, int]:
    """(requests, window seconds) from the settings."""
    return int(settings.API_RATE_LIMIT), int(settings.API_RATE_WINDOW)


def retry_after(token_id: int, *, now: float | None = None) -> int | None:
    """Count one request of the token; the seconds to wait if it is over its
    limit, else None."""
    allowed, window = limit()
    now = time.time() if now is None else now
    start = math.floor(now / window) * window
    key = f"api-rate:{token_id}:{int(start)}"
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
