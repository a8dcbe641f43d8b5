"""The demo fleet's data usage of the last 30 days (``seed_demo``), so the
dashboard, the Usage tab and the list's usage column are alive from the start.

Three set-based statements inside the seed's transaction, whatever the fleet's
size: daily usage for in-service endpoints of the seed (all of them up to
5,000; beyond that every n-th one, so that the rows stay about 5,000 × 30 ×
0.7), on about 70 % of the days, with bytes drawn from a hash of (endpoint,
day) so a seed is reproducible; then the monthly totals and the account totals
summed from those rows.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from inventory.models import IN_SERVICE_STATES, Endpoint
from usage.models import AccountDailyUsage, EndpointDailyUsage, EndpointMonthlyUsage

_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_DAILY = _quote(EndpointDailyUsage._meta.db_table)
_MONTHLY = _quote(EndpointMonthlyUsage._meta.db_table)
_ACCOUNT = _quote(AccountDailyUsage._meta.db_table)

DAYS = 30
WITH_USAGE = 5_000


def seed_usage(*, first_id: int, count: int, today: dt.date) -> int:
    """Usage rows for endpoints ``first_id`` .. ``first_id + count - 1``; returns
    the daily rows written."""
    if count <= 0:
        return 0
    params = {
        "first": first_id,
        "last": first_id + count - 1,
        "step": max(1, count // WITH_USAGE),
        "states": [state.value for state in IN_SERVICE_STATES],
        "from_day": today - dt.timedelta(days=DAYS - 1),
        "to_day": today,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_DAILY} (account_id, endpoint_id, day, bytes_up, bytes_down)
            SELECT e.account_id, e.id, d.day, h.n %% 500000, (h.n / 7) %% 5000000
              FROM {_ENDPOINTS} e
             CROSS JOIN LATERAL (
                   SELECT s::date AS day
                     FROM generate_series(%(from_day)s::date, %(to_day)s::date, '1 day') s) d
             CROSS JOIN LATERAL (
                   SELECT hashint8(e.id * 100000 + (d.day - DATE '2000-01-01'))::bigint
                          & 2147483647 AS n) h
             WHERE e.id BETWEEN %(first)s AND %(last)s
               AND e.id %% %(step)s = 0
               AND e.state = ANY(%(states)s)
               AND h.n %% 10 < 7
            """,
            params,
        )
        written = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO {_MONTHLY} (account_id, endpoint_id, month, bytes_total)
            SELECT account_id, endpoint_id, date_trunc('month', day)::date,
                   sum(bytes_up + bytes_down)
              FROM {_DAILY}
             WHERE endpoint_id BETWEEN %(first)s AND %(last)s
             GROUP BY 1, 2, 3
             ORDER BY 2, 3
            ON CONFLICT (endpoint_id, month) DO UPDATE
               SET bytes_total = EXCLUDED.bytes_total
            """,
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO {_ACCOUNT} (account_id, day, bytes_up, bytes_down)
            SELECT account_id, day, sum(bytes_up), sum(bytes_down)
              FROM {_DAILY}
             WHERE endpoint_id BETWEEN %(first)s AND %(last)s
             GROUP BY 1, 2
             ORDER BY 1, 2
            ON CONFLICT (account_id, day, stripe) DO UPDATE
               SET bytes_up = {_ACCOUNT}.bytes_up + EXCLUDED.bytes_up,
                   bytes_down = {_ACCOUNT}.bytes_down + EXCLUDED.bytes_down
            """,
            params,
        )
    return written
