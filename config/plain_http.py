"""The production settings served over plain HTTP on loopback, for the tests and
the benchmark: no HTTPS redirect or secure-only cookies, static files from the
source tree (no collected tree), and a fast password hasher for their own users.
Never for a deployment."""

import warnings

from config.settings import *  # noqa: F403

# Static files come from the finders here; no collected tree is expected.
warnings.filterwarnings("ignore", message="No directory at")

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The tests' and the benchmark's webhook receivers listen on loopback.
WEBHOOK_ALLOWED_NETWORKS = "127.0.0.0/8"
