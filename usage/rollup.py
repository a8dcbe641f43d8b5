"""Usage from a batch of network events, in the batch's own transaction
(docs/usage.md).

Accepted ``session_update`` and ``session_end`` events carry the bytes moved
since the session's previous report. Duplicates and stale events are never
accepted, so they are never counted. The batch's bytes are summed in memory per
(endpoint, UTC day), per (account, UTC day) and per (endpoint, UTC month), and
ONE statement upserts the three tables, in key order (two batches lock the
same rows in the same order; the account's day on the stripe of the batch's
transaction, so that concurrent batches of one account do not queue on it),
and raises the usage warnings that the new month totals (the upsert's
RETURNING) cross.

A warning is a ``UsageWarning`` row, unique per endpoint, month and kind
(``warning`` at the group's ``warning_percent``, ``limit`` at 100 %), inserted
with ON CONFLICT DO NOTHING: raised exactly once however many batches go past
it. Each one raised gets a History row; a ``limit`` in a group with
``suspend_at_limit`` suspends the endpoint through ``lifecycle.suspend`` (actor
system). ``usage_warning_raised`` is where an account event belongs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

import orjson
from django.db import connection
from django.utils import timezone

from inventory import history, lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, EventStatus, EventType, Group, HistoryAction
from usage.models import (
    STRIPES,
    AccountDailyUsage,
    EndpointDailyUsage,
    EndpointMonthlyUsage,
    UsageWarning,
    WarningKind,
)

_quote = connection.ops.quote_name
_ENDPOINT_USAGE = _quote(EndpointDailyUsage._meta.db_table)
_ACCOUNT_USAGE = _quote(AccountDailyUsage._meta.db_table)
_MONTH_USAGE = _quote(EndpointMonthlyUsage._meta.db_table)
_WARNINGS = _quote(UsageWarning._meta.db_table)
_GROUPS = _quote(Group._meta.db_table)
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_HISTORY = _quote(history.History._meta.db_table)

#: Bytes in one MB of an allowance (decimal, as operators bill).
MB = 1_000_000
LIMIT_REASON = "Monthly data allowance used up"
#: What counts from a batch: accepted events of the types that report bytes
#: (the network contract's ``USAGE_TYPES``; the network imports usage, not
#: the other way round).
ACCEPTED = EventStatus.ACCEPTED.value
USAGE_TYPES = frozenset({EventType.SESSION_UPDATE.value, EventType.SESSION_END.value})


@dataclass(frozen=True)
class Crossing:
    """A usage warning this batch raised."""

    account_id: int
    endpoint_id: int
    group_id: int
    kind: str
    used_bytes: int
    allowance_bytes: int
    suspend: bool


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def record_usage(*, outcomes: list, batch: uuid.UUID) -> list[Crossing]:
    """Add the accepted events' bytes to the daily usage, raise the warnings
    they cross, and suspend those at their limit where the group says so.
    Called once per batch, inside its transaction, after the endpoints are
    written."""
    per_endpoint: dict[tuple[int, dt.date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for outcome in outcomes:
        event = outcome.event
        if outcome.status != ACCEPTED or event.type not in USAGE_TYPES:
            continue
        if not (event.bytes_up or event.bytes_down):
            continue
        endpoint = outcome.endpoint
        day = event.at.astimezone(dt.UTC).date()
        row = per_endpoint[(endpoint.id, day)]
        row[0] += event.bytes_up
        row[1] += event.bytes_down
        row[2] = endpoint.account_id
    if not per_endpoint:
        return []
    endpoint_rows = [
        {"endpoint_id": pk, "day": day.isoformat(), "account_id": v[2], "up": v[0], "down": v[1]}
        for (pk, day), v in sorted(per_endpoint.items())
    ]
    per_account: dict[tuple[int, dt.date], list[int]] = defaultdict(lambda: [0, 0])
    per_month: dict[tuple[int, dt.date], list[int]] = defaultdict(lambda: [0, 0])
    current = month_start(dt.datetime.now(dt.UTC).date())
    for (pk, day), (up, down, account_id) in per_endpoint.items():
        total = per_account[(account_id, day)]
        total[0] += up
        total[1] += down
        month = per_month[(pk, month_start(day))]
        month[0] += up + down
        month[1] = account_id
    account_rows = [
        {"account_id": account_id, "day": day.isoformat(), "up": v[0], "down": v[1]}
        for (account_id, day), v in sorted(per_account.items())
    ]
    month_rows = [
        {"endpoint_id": pk, "month": month.isoformat(), "account_id": v[1], "bytes": v[0]}
        for (pk, month), v in sorted(per_month.items())
    ]
    crossings = _upsert_and_warn(endpoint_rows, account_rows, month_rows, current)
    if crossings:
        _record_crossings(crossings, batch)
    return crossings


def _upsert_and_warn(endpoint_rows, account_rows, month_rows, month) -> list[Crossing]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH per_endpoint AS (
                INSERT INTO {_ENDPOINT_USAGE} (account_id, endpoint_id, day, bytes_up, bytes_down)
                SELECT v.account_id, v.endpoint_id, v.day, v.up, v.down
                  FROM json_to_recordset(%(endpoints)s::json)
                       AS v(account_id bigint, endpoint_id bigint, day date, up bigint,
                            down bigint)
                 ORDER BY v.endpoint_id, v.day
                ON CONFLICT (endpoint_id, day) DO UPDATE
                   SET bytes_up = {_ENDPOINT_USAGE}.bytes_up + EXCLUDED.bytes_up,
                       bytes_down = {_ENDPOINT_USAGE}.bytes_down + EXCLUDED.bytes_down
            ), per_account AS (
                INSERT INTO {_ACCOUNT_USAGE} (account_id, day, stripe, bytes_up, bytes_down)
                SELECT v.account_id, v.day, txid_current() %% {STRIPES},
                       v.up, v.down
                  FROM json_to_recordset(%(accounts)s::json)
                       AS v(account_id bigint, day date, up bigint, down bigint)
                 ORDER BY v.account_id, v.day
                ON CONFLICT (account_id, day, stripe) DO UPDATE
                   SET bytes_up = {_ACCOUNT_USAGE}.bytes_up + EXCLUDED.bytes_up,
                       bytes_down = {_ACCOUNT_USAGE}.bytes_down + EXCLUDED.bytes_down
            ), per_month AS (
                INSERT INTO {_MONTH_USAGE} (account_id, endpoint_id, month, bytes_total)
                SELECT v.account_id, v.endpoint_id, v.month, v.bytes
                  FROM json_to_recordset(%(months)s::json)
                       AS v(account_id bigint, endpoint_id bigint, month date, bytes bigint)
                 ORDER BY v.endpoint_id, v.month
                ON CONFLICT (endpoint_id, month) DO UPDATE
                   SET bytes_total = {_MONTH_USAGE}.bytes_total + EXCLUDED.bytes_total
                RETURNING endpoint_id, month, bytes_total
            ), limited AS (
                SELECT e.account_id, e.id AS endpoint_id, g.id AS group_id,
                       g.data_allowance_mb::bigint * {MB} AS allowance,
                       g.warning_percent, m.bytes_total AS used
                  FROM per_month m
                  JOIN {_ENDPOINTS} e ON e.id = m.endpoint_id
                  JOIN {_GROUPS} g ON g.id = e.primary_group_id
                 WHERE m.month = %(month)s AND g.data_allowance_mb IS NOT NULL
            ), crossed AS (
                SELECT l.*, k.kind
                  FROM limited l
                 CROSS JOIN LATERAL (VALUES
                       (%(warning)s, l.allowance * l.warning_percent / 100),
                       (%(limit)s, l.allowance)) AS k(kind, threshold)
                 WHERE l.used >= k.threshold
            )
            INSERT INTO {_WARNINGS}
                   (account_id, endpoint_id, group_id, month, kind, at, used_bytes,
                    allowance_bytes)
            SELECT c.account_id, c.endpoint_id, c.group_id, %(month)s, c.kind, now(), c.used,
                   c.allowance
              FROM crossed c
             ORDER BY c.endpoint_id, c.kind
            ON CONFLICT (endpoint_id, month, kind) DO NOTHING
            RETURNING account_id, endpoint_id, group_id, kind, used_bytes, allowance_bytes,
                      (SELECT g.suspend_at_limit FROM {_GROUPS} g WHERE g.id = group_id)
            """,
            {
                "endpoints": orjson.dumps(endpoint_rows).decode(),
                "accounts": orjson.dumps(account_rows).decode(),
                "months": orjson.dumps(month_rows).decode(),
                "month": month,
                "warning": WarningKind.WARNING.value,
                "limit": WarningKind.LIMIT.value,
            },
        )
        return [
            Crossing(
                account_id=account_id,
                endpoint_id=endpoint_id,
                group_id=group_id,
                kind=kind,
                used_bytes=used,
                allowance_bytes=allowance,
                suspend=bool(suspend) and kind == WarningKind.LIMIT,
            )
            for account_id, endpoint_id, group_id, kind, used, allowance, suspend in cursor
        ]


def _record_crossings(crossings: list[Crossing], batch: uuid.UUID) -> None:
    rows = [
        {
            "account_id": c.account_id,
            "endpoint_id": c.endpoint_id,
            "changes": {
                "kind": c.kind,
                "used_bytes": c.used_bytes,
                "allowance_bytes": c.allowance_bytes,
            },
        }
        for c in crossings
    ]
    actor = Actor.SYSTEM
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_HISTORY} ({history.COLUMN_LIST})
            SELECT v.account_id, v.endpoint_id, now(), %(kind)s, NULL, %(label)s, %(action)s,
                   '', '', v.changes, '', %(batch)s
              FROM json_to_recordset(%(rows)s::json)
                   AS v(account_id bigint, endpoint_id bigint, changes jsonb)
            """,
            {
                "kind": actor.kind,
                "label": actor.label,
                "action": HistoryAction.USAGE_WARNING.value,
                "batch": batch,
                "rows": orjson.dumps(rows).decode(),
            },
        )
    usage_warning_raised(crossings=crossings)
    to_suspend = sorted(c.endpoint_id for c in crossings if c.suspend)
    if to_suspend:
        lifecycle.suspend(
            endpoints=Endpoint.objects.filter(pk__in=to_suspend),
            actor=actor,
            reason=LIMIT_REASON,
            batch=batch,
        )


def usage_warning_raised(*, crossings: list[Crossing]) -> None:
    """The account events ``endpoint.usage_warning``, one per crossing, written
    in the batch's transaction by one statement (the account event outbox). The
    warnings are already recorded (``UsageWarning`` and History) when this is
    called; the suspension that may follow writes its own state change."""
    from events import outbox
    from events.models import EventType as AccountEventType

    at = timezone.now()
    outbox.emit_rows(
        [
            {
                "account_id": c.account_id,
                "type": str(AccountEventType.USAGE_WARNING),
                "endpoint_id": c.endpoint_id,
                "data": {
                    "kind": c.kind,
                    "group_id": c.group_id,
                    "used_bytes": c.used_bytes,
                    "allowance_bytes": c.allowance_bytes,
                    "suspends": c.suspend,
                    "at": at,
                },
            }
            for c in crossings
        ],
        endpoints=Endpoint,
    )
