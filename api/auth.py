"""Who calls the customer API: an account's API token, as a bearer token.

The token is looked up by its SHA-256 through a unique index: equality on a
digest of 256 random bits leaks nothing usable through timing, and there is no
per-user secret to compare. Revoked and expired tokens are refused on the very
next request. Network tokens live in another table and are refused here, as API
tokens are by the network API. ``last_used_at`` is written at most once a
minute, so a busy integration does not add an UPDATE to every request.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from api import rate_limit
from api.models import ApiToken
from api.problems import ProblemError
from api.request_body import refuse_unstorable
from api.tokens import MAX_TOKEN_LENGTH, TOKEN_PREFIX, hash_token
from portal import access_log, raw_rows, replicas
from portal.client_ip import client_ip
from portal.models import Account, Member, Role

LAST_USED_RESOLUTION = timedelta(minutes=1)
#: A token's write time may be this old when it writes again; the replicas'
#: sticky window (REPLICA_MAX_LAG + 1 s) covers it.
WROTE_RESOLUTION = timedelta(seconds=1)


# The token, its account and its creator's role in the account now, in one
# statement on the primary (never a replica's stale copy). Written out rather
# than built by the ORM: building and compiling the ORM version (select_related,
# a Subquery, each model's default ordering) cost 1.6 ms of every API request
# for 0.07 ms of SQL.
_TOKEN_SQL = f"""
SELECT {raw_rows.columns(ApiToken, "t")}, {raw_rows.columns(Account, "a")},
       (SELECT m.role FROM {Member._meta.db_table} m
         WHERE m.account_id = t.account_id AND m.user_id = t.created_by_id)
  FROM {ApiToken._meta.db_table} t
  JOIN {Account._meta.db_table} a ON a.id = t.account_id
 WHERE t.token_hash = %s AND t.revoked_at IS NULL
   AND (t.expires_at IS NULL OR t.expires_at > %s)
"""


def token_for(plain: str) -> ApiToken | None:
    """The live token ``plain`` names, with its account; None otherwise.

    A token acts with the lower of its own role and its creator's role in the
    account now, and not at all once its creator is no longer a member (staff's
    tokens have no creator). Removing or demoting a member already revokes or
    lowers their tokens (team/grants.py); this is the same rule read again, in
    the same query, for any change that bypassed it."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > MAX_TOKEN_LENGTH:
        return None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [hash_token(plain), timezone.now()])
        row = cursor.fetchone()
    if row is None:
        return None
    split = raw_rows.width(ApiToken)
    token = raw_rows.instance(ApiToken, row[:split])
    token.account = raw_rows.instance(Account, row[split:-1])
    token.creator_role = row[-1]
    if token.created_by_id is None:
        return token
    if token.creator_role is None:
        return None
    if Role(token.creator_role).rank < Role(token.role).rank:
        token.role = token.creator_role  # this request only; never saved
    return token


def _stamp(token: ApiToken, field: str, resolution: timedelta) -> None:
    """Set the token's ``field`` to now unless it is younger than ``resolution``
    (as read with the token, so a fresh one costs no query). Conditional in
    SQL too, so that two workers refreshing at once write it once."""
    now = timezone.now()
    current = getattr(token, field)
    if current is not None and current > now - resolution:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": now - resolution})
    ).update(**{field: now})
    setattr(token, field, now)


def _touch(token: ApiToken) -> None:
    _stamp(token, "last_used_at", LAST_USED_RESOLUTION)


def _record_write(token: ApiToken) -> None:
    """The token wrote: its next reads come from the primary for the sticky
    window. Once a second at most, so a stream of writes does not add an UPDATE
    to every request."""
    _stamp(token, "wrote_at", WROTE_RESOLUTION)


class ApiTokenAuth(HttpBearer):
    """Sets ``request.auth`` (the token) and ``request.account`` (its account).
    A request with no token or a bad one counts against its client address's
    limit; over it, a 429 instead of the 401."""

    openapi_description = (
        "An API token of your account (`epk_…`), created on the API tokens page: "
        "`Authorization: Bearer <token>`."
    )

    def __call__(self, request: HttpRequest) -> ApiToken | None:
        found = super().__call__(request)
        if found is None:
            wait = rate_limit.anonymous_retry_after(client_ip(request))
            if wait is not None:
                allowed, window = rate_limit.anonymous_limit()
                raise ProblemError(
                    429,
                    f"Requests without a valid token are limited to {allowed:,} per {window} "
                    f"seconds from one address; retry in {wait} s.",
                    headers={"Retry-After": str(wait)},
                )
        return found

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = token_for(token.strip())
        if found is None:
            return None
        wait = rate_limit.retry_after(found.pk)
        if wait is not None:
            allowed, window = rate_limit.limit()
            raise ProblemError(
                429,
                f"This token may send {allowed:,} requests per {window} seconds; "
                f"retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        refuse_unstorable(request)
        _touch(found)
        if replicas.aliases():
            if replicas.wrote_since(found.wrote_at):
                replicas.read_primary(request)
            request.record_write = lambda: _record_write(found)
        access_log.annotate(request, token=found.prefix)
        request.account = found.account
        request.api_token = found
        return found
