"""What an API page shows of each endpoint besides its own columns (IMSIs,
secondary groups, addresses, key values), read for the whole page in ONE query.

Four ``values_list`` queries with an ``IN`` list of the page's ids each cost a
round trip and an ORM compilation; on a page of 100 that was 6 ms of Python
for 0.3 ms of SQL. Here the page's ids go as one array parameter and each row
comes back with its four relations aggregated by correlated subqueries (one
index probe per relation and endpoint). The orders are those of the ORM
version: IMSIs and keys by their ``C``-collated text, addresses by group id
(``abbrev`` is ``inet``'s own text form, as Django reads the column).

The two times that are never a sort key (``state_changed_at``, ``created_at``)
come from here too, already as the API's date-time text: parsing 200
timestamps per page into datetimes (Django's loader, in Python) and formatting
them again cost more than the rest of the page's row reading. ``last_activity``
stays in the page's own row: it is a sort key and its cursor's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from django.db import connections, router

from inventory.models import IMSI, Endpoint, IPAllocation, KeyValue, SecondaryMembership


def _utc_z(column: str) -> str:
    """``column`` (a timestamptz) as text in the form the API's schema (and
    orjson with ``OPT_UTC_Z``) gives a date-time: UTC, ``Z``, microseconds
    only when there are any."""
    return (
        f"to_char({column} AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {column}) = "
        f"""{column} THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""
    )


_SQL = f"""
SELECT e.id,
       ARRAY(SELECT i.imsi FROM {IMSI._meta.db_table} i
              WHERE i.endpoint_id = e.id ORDER BY i.imsi),
       ARRAY(SELECT s.group_id FROM {SecondaryMembership._meta.db_table} s
              WHERE s.endpoint_id = e.id),
       (SELECT json_agg(json_build_array(a.group_id, abbrev(a.address), a.kind)
                        ORDER BY a.group_id)::text
          FROM {IPAllocation._meta.db_table} a WHERE a.endpoint_id = e.id),
       (SELECT json_agg(json_build_array(k.key, k.value) ORDER BY k.key)::text
          FROM {KeyValue._meta.db_table} k WHERE k.endpoint_id = e.id),
       {_utc_z("e.state_changed_at")},
       {_utc_z("e.created_at")}
  FROM unnest(%s::bigint[]) AS page (id)
  JOIN {Endpoint._meta.db_table} e ON e.id = page.id
"""


@dataclass(slots=True)
class Relations:
    imsis: list[str]
    secondary_group_ids: list[int]
    #: (group id, address, kind), by group id.
    addresses: list[list]
    #: (key, value), by key.
    key_values: list[list[str]]
    #: Already in the API's date-time form (``_utc_z``).
    state_changed_at: str
    created_at: str


def relations_of(ids: Sequence[int]) -> dict[int, Relations]:
    """The relations of each of ``ids``, by endpoint id (every id of an endpoint
    has an entry: ``ARRAY()`` is an empty array when there is nothing)."""
    if not ids:
        return {}
    # The database the ORM would read endpoints from (a replica for an API GET).
    alias = router.db_for_read(Endpoint)
    with connections[alias].cursor() as cursor:
        cursor.execute(_SQL, [list(ids)])
        rows = cursor.fetchall()
    return {
        endpoint_id: Relations(
            imsis,
            groups,
            orjson.loads(addresses) if addresses else [],
            orjson.loads(key_values) if key_values else [],
            state_changed_at,
            created_at,
        )
        for endpoint_id, imsis, groups, addresses, key_values, state_changed_at, created_at in rows
    }
