"""How the demo fleet reaches the database: COPY, a chunk at a time, with no
index dropped, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from inventory import history
from inventory.models import (
    IMSI,
    Endpoint,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
)
from inventory.sim_import import copy_rows

# Table names for the SQL below, quoted, from the models (never spelled out).
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)
_HISTORY = _quote(History._meta.db_table)
_ALLOCATIONS = _quote(IPAllocation._meta.db_table)
_MEMBERSHIPS = _quote(SecondaryMembership._meta.db_table)
_EVENTS = _quote(NetworkEvent._meta.db_table)

_COPY = {
    "endpoints": (
        f"COPY {_ENDPOINTS} (id, account_id, iccid, name, reference, tags, state,"
        " primary_group_id, imei_lock_enabled, imei, last_activity, state_changed_at,"
        " terminated_at, created_at) FROM STDIN"
    ),
    "imsis": f"COPY {_IMSIS} (account_id, endpoint_id, imsi) FROM STDIN",
    "addresses": (
        f"COPY {_ALLOCATIONS} (account_id, endpoint_id, group_id, vslice_id, address,"
        " kind, created_at) FROM STDIN"
    ),
    "memberships": (f"COPY {_MEMBERSHIPS} (account_id, endpoint_id, group_id) FROM STDIN"),
    "history": f"COPY {_HISTORY} ({history.COLUMN_LIST}) FROM STDIN",
    "events": (
        f"COPY {_EVENTS} (event_id, account_id, endpoint_id, group_id, type, imsi,"
        " imei, apn, at, received_at, status, reason, ip) FROM STDIN"
    ),
}
#: The changes and reason of a history row that has none.
_NO_DETAILS = ("{}", "")
#: Demo history rows belong to no batch.
_NO_BATCH = (None,)


@dataclass
class Rows:
    """One chunk of the fleet, a list per table."""

    endpoints: list[tuple] = field(default_factory=list)
    imsis: list[tuple] = field(default_factory=list)
    addresses: list[tuple] = field(default_factory=list)
    memberships: list[tuple] = field(default_factory=list)
    #: (…, to_state), or with the changes and reason after it.
    history: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)


def _copy(cursor, table: str, rows: Iterator[tuple]) -> None:
    copy_rows(cursor, _COPY[table], rows)


def write_rows(cursor, rows: Rows, now: datetime) -> None:
    _copy(cursor, "endpoints", iter(rows.endpoints))
    _copy(cursor, "imsis", iter(rows.imsis))
    _copy(cursor, "addresses", (row + (now,) for row in rows.addresses))
    _copy(cursor, "memberships", iter(rows.memberships))
    _copy(
        cursor,
        "history",
        ((row if len(row) == 11 else row + _NO_DETAILS) + _NO_BATCH for row in rows.history),
    )
    _copy(cursor, "events", iter(rows.events))
