"""Settings for benchmark runs: the plain-HTTP settings (config/plain_http.py),
with the stock admin mounted beside the portal (bench/urls.py).

DEBUG stays off so that no query is logged while timing; static files are
served uncompressed so no collectstatic is needed."""

from config.plain_http import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}

# The API section times requests, not the rate limit.
API_RATE_LIMIT = 10**9
