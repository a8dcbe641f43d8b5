"""What an API page shows of each endpoint besides its own columns (IMSIs,
secondary groups, addresses, key values), read for the whole page in ONE query.

Four ``values_list`` queries with an ``IN`` list of the page's ids each cost a
round trip and an ORM compilation; on a page of 100 that was 6 ms of Python
for 0.3 ms of SQL. Here the page's ids go as one array parameter and each row
comes back with its four relations aggregated by correlated subqueries (one
index probe per relation and endpoint). The orders are those of the ORM
version: IMSIs and keys by their ``C``-collated text, addresses by group id
(``abbrev`` is ``inet``'s own text form, as Django reads the column).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from django.db import connections, router

from inventory.models import IMSI, Endpoint, IPAllocation, KeyValue, SecondaryMembership

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
          FROM {KeyValue._meta.db_table} k WHERE k.endpoint_id = e.id)
  FROM unnest(%s::bigint[]) AS e (id)
"""


@dataclass(slots=True)
class Relations:
    imsis: list[str]
    secondary_group_ids: list[int]
    #: (group id, address, kind), by group id.
    addresses: list[list]
    #: (key, value), by key.
    key_values: list[list[str]]


def relations_of(ids: Sequence[int]) -> dict[int, Relations]:
    """The relations of each of ``ids``, by endpoint id (every id has an entry:
    ``unnest`` gives a row per id, ``ARRAY()`` an empty array)."""
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
        )
        for endpoint_id, imsis, groups, addresses, key_values in rows
    }
