"""Read replicas (``DATABASE_REPLICA_URLS``, docs/operations.md "Read replicas").

What reads where: the list pages, the exports, the dashboard, the events and
audit pages, and every GET of the customer API read from a replica (the routes
in ``REPLICA_ROUTES`` and the ``customer_api`` namespace); everything else, every
write, and every read inside a transaction stays on the primary. Only the domain
apps' tables are read there (``REPLICA_APPS``): sessions, users, tenancy, tokens
and the job queue always come from the primary, so signing in, the account a
request acts in and a token's permissions are never a replica's stale copy.

Read-your-writes: a session or an API token that wrote (an unsafe method that
succeeded) reads from the primary for ``REPLICA_STICKY_SECONDS`` afterwards
(default ``REPLICA_MAX_LAG`` + 1): the session keeps the time in its data, a token
on its own row (``ApiToken.wrote_at``, read with the token on the primary), so
every process and host sees it with no shared cache.

Health: each process asks each replica how far behind it is at most every
``REPLICA_CHECK_SECONDS`` (default 2): a replica that does not answer, is not in
recovery, or whose replay is more than ``REPLICA_MAX_LAG`` seconds (default 5)
behind is skipped until the next check; with none left, reads go to the primary.
A read that finds its replica gone between two checks is answered again from
the primary (the same request, once), and every replica is checked afresh.
"""

from __future__ import annotations

import contextvars
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from portal.access_log import annotate

#: Apps whose tables a replica may serve.
REPLICA_APPS = frozenset({"inventory", "jobs", "usage", "audit", "webhooks"})
#: Portal routes (besides every GET of the customer API) that read from a replica.
REPLICA_ROUTES = frozenset(
    {
        "inventory:dashboard",
        "inventory:endpoint_list",
        "inventory:endpoint_export",
        "inventory:event_list",
        "audit:audit_log",
        "audit:audit_export",
    }
)
REPLICA_API_NAMESPACE = "customer_api"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_SESSION_KEY = "_wrote_at"

#: How far behind the replica is, in seconds (0 when it has replayed all it
#: received and is still streaming), or NULL when it is not a replica at all.
LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN NULL
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
       AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
  ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 1e9)::float8
END
"""

_reading = contextvars.ContextVar("replica_reads", default=False)


@dataclass
class _Check:
    at: float
    lag: float | None


_checks: dict[str, _Check] = {}


def aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica")]


def max_lag() -> float:
    return float(getattr(settings, "REPLICA_MAX_LAG", 5))


def sticky_seconds() -> float:
    return float(getattr(settings, "REPLICA_STICKY_SECONDS", max_lag() + 1))


def lag(alias: str) -> float | None:
    """The replica's lag in seconds, or None if it cannot serve (down, not a
    replica); asked at most every REPLICA_CHECK_SECONDS per process."""
    now = time.monotonic()
    check = _checks.get(alias)
    if check is not None and now - check.at < getattr(settings, "REPLICA_CHECK_SECONDS", 2):
        return check.lag
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            value = cursor.fetchone()[0]
    except DatabaseError:
        value = None
        connections[alias].close_if_unusable_or_obsolete()
    _checks[alias] = _Check(at=now, lag=value)
    return value


def forget_checks() -> None:
    """Check every replica again before its next use (a connection just failed)."""
    _checks.clear()


def healthy_replica() -> str | None:
    usable = [
        alias for alias in aliases() if (seconds := lag(alias)) is not None and seconds <= max_lag()
    ]
    return random.choice(usable) if usable else None


def wrote_since(moment) -> bool:
    """Whether a write at ``moment`` (an aware datetime, or None) is inside the
    sticky window, so that its writer must read the primary."""
    return moment is not None and moment.timestamp() > time.time() - sticky_seconds()


def read_primary(request) -> None:
    """This request's reads go to the primary: its caller (the API's token
    authentication) found that it wrote within the sticky window."""
    _reading.set(False)
    annotate(request, db="primary-wrote")


def wrote_recently(request) -> bool:
    session = getattr(request, "session", None)
    if session is None or not session.session_key:
        return False
    return (session.get(_SESSION_KEY) or 0) > time.time() - sticky_seconds()


def mark_wrote(request) -> None:
    """Remember that the request's session or token wrote. A token's
    authentication sets ``request.record_write``, which keeps the time on the
    token's row; a session keeps it in its data."""
    record = getattr(request, "record_write", None)
    if record is not None:
        record()
        return
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        session[_SESSION_KEY] = time.time()


def _eligible(request) -> bool:
    match = request.resolver_match
    if request.method not in _SAFE_METHODS or match is None:
        return False
    return match.view_name in REPLICA_ROUTES or match.namespace == REPLICA_API_NAMESPACE


class ReplicaReadsMiddleware:
    """Lets the eligible reads of a request go to a replica (``ReplicaRouter``),
    and remembers who wrote. Inside authentication: it reads the session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Set (not reset afterwards): a streamed export reads after this returns.
        _reading.set(False)
        response = self.get_response(request)
        if _reading.get() and getattr(request, "_database_unavailable", False):
            # The replica went away between two checks: this read, and only a
            # read gets here, is asked again of the primary.
            forget_checks()
            request._database_unavailable = False
            request._replica_failed = True
            annotate(request, db="replica-lost")
            _reading.set(False)
            response = self.get_response(request)
        if aliases() and request.method not in _SAFE_METHODS and response.status_code < 400:
            mark_wrote(request)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(request, "_replica_failed", False):
            return
        if aliases() and _eligible(request) and not wrote_recently(request):
            _reading.set(True)


class ReplicaRouter:
    """Routes a read to a healthy replica while ``ReplicaReadsMiddleware``
    allows it; everything else to the primary."""

    def db_for_read(self, model, **hints):
        if not _reading.get() or model._meta.app_label not in REPLICA_APPS:
            return None
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return None  # a transaction reads what it wrote
        return healthy_replica()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replicas hold the primary's rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
