"""Rebuild every table the database derives from source rows, and say how far
it had drifted (docs/usage.md "Rebuilding derived tables").

- ``usage_statecount`` from ``inventory_endpoint``;
- ``inventory_addressblock`` from ``inventory_ipallocation``;
- ``inventory_endpointsearch`` from the endpoints' name, reference and ICCID;
- ``usage_endpointmonthlyusage`` from the daily usage.

Each is compared and repaired set-based inside one transaction that holds a
SHARE lock on its source table: writers wait (readers do not), so nothing can
change between the comparison and the repair. Triggers keep these tables
exact; drift means someone bypassed them (a trigger disabled, a restore of one
table, a hand edit), and this is how it is found and undone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from inventory.models import AddressBlock, Endpoint, EndpointSearch, IPAllocation
from usage.models import EndpointDailyUsage, EndpointMonthlyUsage, StateCount

_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_COUNTS = _quote(StateCount._meta.db_table)
_BLOCKS = _quote(AddressBlock._meta.db_table)
_ALLOCATIONS = _quote(IPAllocation._meta.db_table)
_SEARCH = _quote(EndpointSearch._meta.db_table)
_DAILY = _quote(EndpointDailyUsage._meta.db_table)
_MONTHLY = _quote(EndpointMonthlyUsage._meta.db_table)


@dataclass(frozen=True)
class Drift:
    """What one derived table got wrong: rows missing, wrong or extra."""

    table: str
    missing: int
    wrong: int
    extra: int

    @property
    def total(self) -> int:
        return self.missing + self.wrong + self.extra

    def describe(self) -> str:
        if not self.total:
            return f"{self.table}: exact"
        return (
            f"{self.table}: {self.missing} missing, {self.wrong} wrong, {self.extra} extra row(s)"
        )


def _diff(cursor, *, expected: str, stored: str, key: str, value: str) -> tuple[int, int, int]:
    cursor.execute(
        f"""
        SELECT count(*) FILTER (WHERE s.k IS NULL),
               count(*) FILTER (WHERE s.k IS NOT NULL AND x.k IS NOT NULL
                                AND s.v IS DISTINCT FROM x.v),
               count(*) FILTER (WHERE x.k IS NULL)
          FROM (SELECT {key} AS k, {value} AS v FROM ({expected}) e) x
          FULL JOIN (SELECT {key} AS k, {value} AS v FROM ({stored}) e) s ON s.k = x.k
        """
    )
    return cursor.fetchone()


def _rebuild_whole(
    *,
    model,
    source: str,
    expected: str,
    stored: str,
    key: str,
    value: str,
    columns: str,
    repair: bool,
) -> Drift:
    """Compare a small derived table with its recount from ``source`` (locked
    against writers meanwhile); on any drift, replace it with the recount."""
    table = connection.ops.quote_name(model._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {source} IN SHARE MODE")
        missing, wrong, extra = _diff(
            cursor, expected=expected, stored=stored, key=key, value=value
        )
        if repair and missing + wrong + extra:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"INSERT INTO {table} ({columns}) {expected}")
    return Drift(model._meta.db_table, missing, wrong, extra)


def rebuild_counts(*, repair: bool = True) -> Drift:
    return _rebuild_whole(
        model=StateCount,
        source=_ENDPOINTS,
        expected=(
            f"SELECT account_id, state, primary_group_id AS group_id, count(*) AS count "
            f"FROM {_ENDPOINTS} GROUP BY 1, 2, 3"
        ),
        # The stripes of one count summed (usage/models.py StateCount).
        stored=(
            f"SELECT account_id, state, group_id, sum(count) AS count FROM {_COUNTS}"
            " GROUP BY 1, 2, 3 HAVING sum(count) <> 0"
        ),
        key="row(e.account_id, e.state, e.group_id)::text",
        value="e.count",
        columns="account_id, state, group_id, count",
        repair=repair,
    )


def rebuild_address_blocks(*, repair: bool = True) -> Drift:
    return _rebuild_whole(
        model=AddressBlock,
        source=_ALLOCATIONS,
        expected=(
            f"SELECT vslice_id, (address - '0.0.0.0'::inet) / 256 AS block, count(*) AS used "
            f"FROM {_ALLOCATIONS} GROUP BY 1, 2"
        ),
        stored=f"SELECT vslice_id, block, used FROM {_BLOCKS} WHERE used <> 0",
        key="row(e.vslice_id, e.block)::text",
        value="e.used",
        columns="vslice_id, block, used",
        repair=repair,
    )


def rebuild_search_copy(*, repair: bool = True) -> Drift:
    expected = f"SELECT id AS endpoint_id, name, reference, iccid FROM {_ENDPOINTS}"
    stored = f"SELECT endpoint_id, name, reference, iccid FROM {_SEARCH}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {_ENDPOINTS} IN SHARE MODE")
        missing, wrong, extra = _diff(
            cursor,
            expected=expected,
            stored=stored,
            key="e.endpoint_id",
            value="row(e.name, e.reference, e.iccid)::text",
        )
        if repair and missing + wrong + extra:
            # Row by row differences only: rewriting a million rows would
            # rebuild the trigram indexes for nothing.
            cursor.execute(
                f"DELETE FROM {_SEARCH} s WHERE NOT EXISTS "
                f"(SELECT 1 FROM {_ENDPOINTS} e WHERE e.id = s.endpoint_id)"
            )
            cursor.execute(
                f"UPDATE {_SEARCH} s SET name = e.name, reference = e.reference, "
                f"iccid = e.iccid FROM {_ENDPOINTS} e WHERE e.id = s.endpoint_id "
                "AND (s.name, s.reference, s.iccid) IS DISTINCT FROM (e.name, e.reference, e.iccid)"
            )
            cursor.execute(
                f"INSERT INTO {_SEARCH} (endpoint_id, name, reference, iccid) "
                f"SELECT e.id, e.name, e.reference, e.iccid FROM {_ENDPOINTS} e "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_SEARCH} s WHERE s.endpoint_id = e.id)"
            )
    return Drift(EndpointSearch._meta.db_table, missing, wrong, extra)


def rebuild_monthly_usage(*, repair: bool = True) -> Drift:
    expected = (
        f"SELECT account_id, endpoint_id, date_trunc('month', day)::date AS month, "
        f"sum(bytes_up + bytes_down) AS bytes_total FROM {_DAILY} GROUP BY 1, 2, 3"
    )
    stored = (
        f"SELECT account_id, endpoint_id, month, bytes_total FROM {_MONTHLY} WHERE bytes_total <> 0"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # Network batches write both tables; SHARE on the daily rows holds them.
        cursor.execute(f"LOCK TABLE {_DAILY} IN SHARE MODE")
        missing, wrong, extra = _diff(
            cursor,
            expected=expected,
            stored=stored,
            key="row(e.endpoint_id, e.month)::text",
            value="e.bytes_total",
        )
        if repair and missing + wrong + extra:
            cursor.execute(f"DELETE FROM {_MONTHLY}")
            cursor.execute(
                f"INSERT INTO {_MONTHLY} (account_id, endpoint_id, month, bytes_total) {expected}"
            )
    return Drift(EndpointMonthlyUsage._meta.db_table, missing, wrong, extra)


def rebuild_all(*, repair: bool = True) -> list[Drift]:
    """Every derived table, compared and (with ``repair``) rebuilt."""
    return [
        rebuild_counts(repair=repair),
        rebuild_address_blocks(repair=repair),
        rebuild_search_copy(repair=repair),
        rebuild_monthly_usage(repair=repair),
    ]
