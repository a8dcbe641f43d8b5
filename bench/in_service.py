"""The in-service endpoints that the load sections (RADIUS, the network
events API over HTTP) drive traffic for: one IMSI each, the primary group's
APN, the IMEI, in id order."""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection

from inventory.models import IMSI, IN_SERVICE_STATES, Endpoint, Group
from portal.models import Account

_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_GROUPS = _quote(Group._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)


class InService(NamedTuple):
    imsi: str
    apn: str
    imei: str
    imei_locked: bool
    id: int


def in_service_endpoints(account: Account, *, limit: int) -> list[InService]:
    """The first ``limit`` in-service endpoints of ``account`` by id, with
    their lowest IMSI and their primary group's APN."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.imsi, g.apn, e.imei, e.imei_lock_enabled, e.id
              FROM {_ENDPOINTS} e
              JOIN {_GROUPS} g ON g.id = e.primary_group_id
              JOIN LATERAL (SELECT imsi FROM {_IMSIS} WHERE endpoint_id = e.id
                             ORDER BY imsi LIMIT 1) i ON true
             WHERE e.account_id = %(account)s AND e.state = ANY(%(states)s)
             ORDER BY e.id LIMIT %(limit)s
            """,
            {
                "account": account.pk,
                "states": [str(s) for s in IN_SERVICE_STATES],
                "limit": limit,
            },
        )
        return [InService(*row) for row in cursor.fetchall()]
