"""Exact endpoint counts read from ``StateCount`` (docs/usage.md "Exact counts").

The triggers keep one row per (account, state, primary group), so an account's
counts are a handful of rows, read along the unique index that leads with the
account: the dashboard, the groups page and the list sum them instead of
counting endpoints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import connections, router
from django.db.models import Sum

from portal.models import Account
from usage.models import StateCount


def account_counts(account: Account) -> dict[tuple[str, int | None], int]:
    """(state, primary group id or None) -> endpoints, zero rows left out."""
    return {
        (state, group_id): n
        for state, group_id, n in StateCount.objects.filter(account=account)
        .values("state", "group_id")
        .annotate(n=Sum("count"))
        .filter(n__gt=0)
        .values_list("state", "group_id", "n")
        .order_by()
    }


def by_state(counts: dict[tuple[str, int | None], int]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for (state, _), n in counts.items():
        totals[state] += n
    return dict(totals)


def by_group(counts: dict[tuple[str, int | None], int]) -> dict[int | None, dict[str, int]]:
    groups: dict[int | None, dict[str, int]] = defaultdict(dict)
    for (state, group_id), n in counts.items():
        groups[group_id][state] = n
    return dict(groups)


# The list asks it on every page filtered by state and group only (or not
# at all), so written out: the ORM's aggregate cost more CPU to build and
# compile than its handful of rows cost to sum.
_MATCHING_SQL = f"""
SELECT COALESCE(sum(c.count), 0)
  FROM {StateCount._meta.db_table} c
 WHERE c.account_id = %(account)s
   AND (%(any_state)s OR c.state = ANY(%(states)s::text[]))
   AND (%(group)s::bigint IS NULL OR c.group_id = %(group)s::bigint)
"""


def matching(*, account: Account, states: Iterable[str] = (), group_id: int | None = None) -> int:
    """Endpoints of ``account`` in any of ``states`` (all when empty) and, when
    given, in primary group ``group_id``: what the list filtered by state and
    group holds, exactly, in one query (from the database the ORM would read
    the counts from)."""
    states = list(states)
    with connections[router.db_for_read(StateCount)].cursor() as cursor:
        cursor.execute(
            _MATCHING_SQL,
            {"account": account.pk, "any_state": not states, "states": states, "group": group_id},
        )
        return cursor.fetchone()[0]
