"""Settings for benchmark runs: production settings served over plain HTTP on
loopback, with the stock admin mounted beside the portal (bench/urls.py).

DEBUG stays off so that no query is logged while timing; static files are
served uncompressed so no collectstatic is needed."""

import warnings

from portal.settings import *  # noqa: F403

# Static files come from the finders here; no collected tree is expected.
warnings.filterwarnings("ignore", message="No directory at")

ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Only the benchmark's own users sign in, by session; a fast hasher keeps set-up short.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
