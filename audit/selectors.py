"""Reading an account's audit log (docs/audit-log.md).

An account's log is its own rows plus the rows of no account (sign-ins,
password and two-factor changes) whose actor is one of its current members,
written since that member joined the account (``Member.joined_at``).
Another account's rows are never in it.

The log is newest first by time, then id, and every read is index ranges
whatever its depth or time window: the account's rows along (account[,
action | actor label], created_at, id), each member's own rows along (actor,
created_at, id) from the moment they joined. Ordered by id alone, a day half
a year back walked 600,000 newer rows to reach it (781 ms at a million rows)
and a page half a year back walked 500,000 rows of the account looking for
rows of no account (373 ms); both are now under 2 ms (docs/benchmark.md,
"Slow reads fixed").
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import BigIntegerField, BooleanField, DateTimeField, Q
from django.db.models.expressions import RawSQL
from django.db.models.query import RawQuerySet

from audit.models import AuditAction, AuditEvent
from portal.models import Account, Member

_quote = connection.ops.quote_name
_TABLE = _quote(AuditEvent._meta.db_table)
_MEMBERS = _quote(Member._meta.db_table)
_NEWEST_FIRST = ("-created_at", "-id")

# Django compiles each branch with positional ``%s`` parameters, so the SQL
# around them is positional too, in the order its placeholders appear: each
# member's newest rows (a LATERAL range per member), joined to the account's
# own by UNION ALL (no row is in both: one has an account, the other none).
_LOG_SQL = f"""
    SELECT * FROM (
        ({{own}})
        UNION ALL
        (SELECT "theirs".* FROM {_MEMBERS} "m"
           CROSS JOIN LATERAL ({{theirs}}) AS "theirs"
          WHERE "m"."account_id" = %s)
    ) AS "log"
    ORDER BY "log"."created_at" DESC, "log"."id" DESC
    LIMIT %s
"""


def _older_than(before: int) -> RawSQL:
    """Rows after the row ``before`` in the log's order, as one index range
    (a row comparison): its time is read by its id. A row purged meanwhile
    leaves nothing older to show: the page is empty."""
    sql = (
        f'({_TABLE}."created_at", {_TABLE}."id") < '
        f'((SELECT "c"."created_at" FROM {_TABLE} "c" WHERE "c"."id" = %s), %s)'
    )
    return RawSQL(sql, (before, before), output_field=BooleanField())


def account_events(
    *,
    account: Account,
    limit: int,
    actor: str = "",
    action: AuditAction | str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
) -> RawQuerySet:
    """The newest ``limit`` events ``account``'s admins see (after the row
    ``before`` for keyset pages), filtered by the actor's label (exact), the
    action and a time window [since, until), in one query.

    Each of the two kinds of row is cut at ``limit`` on its own index before
    they are joined and cut again: an OR of the two would make PostgreSQL
    sort every match to find the newest."""
    conditions = Q()
    if actor:
        conditions &= Q(actor_label=actor)
    if action:
        conditions &= Q(action=action)
    if since is not None:
        conditions &= Q(created_at__gte=since)
    if until is not None:
        conditions &= Q(created_at__lt=until)
    rows = AuditEvent.objects.filter(conditions)
    if before is not None:
        rows = rows.filter(_older_than(before))
    own = rows.filter(account=account).order_by(*_NEWEST_FIRST)[:limit]
    # A member's own rows count from the moment they joined this account: what
    # they did before (another employer's sign-ins, addresses) is not ours to see.
    theirs = rows.filter(
        account__isnull=True,
        actor_id=RawSQL('"m"."user_id"', (), output_field=BigIntegerField()),
        created_at__gte=RawSQL('"m"."joined_at"', (), output_field=DateTimeField()),
    ).order_by(*_NEWEST_FIRST)[:limit]
    own_sql, own_params = own.query.sql_with_params()
    theirs_sql, theirs_params = theirs.query.sql_with_params()
    return AuditEvent.objects.raw(
        _LOG_SQL.format(own=own_sql, theirs=theirs_sql),
        (*own_params, *theirs_params, account.pk, limit),
    )
