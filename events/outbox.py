"""What goes into the account event log, and when (docs/webhooks.md).

Every writer emits its events in the same transaction as the change, with one
statement for a whole set (a bulk chunk, a network batch). Every event is
stored, whether or not a subscriber wants it: the account's event log
(/inventory/activity/, ``GET /api/v1/events``) lists them all for 30 days. The
payload is built in that statement and never changes afterwards: it says what
was true when the change committed. The same statement decides, per row, whether
a subscriber wants the event (``seq``: set-based, a join to the account's
webhooks in the INSERT ... SELECT): one that none wants is written already
settled (``seq = NOT_WANTED``), out of the delivery's indexes and never
numbered nor sent; the others wait for their number. The statement returns the
accounts with a wanted event, and only those are woken.

Who wants events is not known here: ``settings.ACCOUNT_EVENT_SUBSCRIBERS``
names the modules (``webhooks.subscriptions``) that give the SQL condition
(``wants``) and are woken after commit (``wake``). So this module imports
nothing above the account, and the rules that emit events import no feature
app. If waking is lost (a crash between commit and queueing) the periodic sweep
delivers within a minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from types import ModuleType

import orjson
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from events.models import NOT_WANTED, AccountEvent, EventType

_quote = connection.ops.quote_name
EVENTS = _quote(AccountEvent._meta.db_table)

#: The payloads' version (``data.version``); bumped only with a new format.
VERSION = 1

#: The columns every writer fills, in this order (``seq``: ``outbox.seq``).
COLUMN_LIST = "account_id, type, endpoint_id, payload, created_at, seq"
#: What every writer's INSERT returns, for ``wanted_by``.
RETURNING = "RETURNING account_id, seq"


def _subscribers() -> list[ModuleType]:
    return [import_module(path) for path in settings.ACCOUNT_EVENT_SUBSCRIBERS]


def subscribed(account: str, type_: str) -> str:
    """SQL: does a subscriber of the account (an SQL expression) want events of
    ``type_`` (an SQL expression)? For the webhooks: has the account an enabled
    webhook subscribed to the type."""
    conditions = [subscriber.wants(account, type_) for subscriber in _subscribers()]
    if not conditions:
        return "FALSE"
    return conditions[0] if len(conditions) == 1 else "(" + " OR ".join(conditions) + ")"


def seq(account: str, type_: str) -> str:
    """SQL: the ``seq`` an event of the account and type (SQL expressions) is
    written with: NULL (to be numbered and delivered) when a subscriber wants
    it, else ``NOT_WANTED``."""
    return f"CASE WHEN {subscribed(account, type_)} THEN NULL ELSE {NOT_WANTED} END"


def wanted_by(inserted: str) -> str:
    """SQL: the distinct accounts of the CTE ``inserted`` (what ``RETURNING``
    gives) with an event a subscriber wants."""
    return f"SELECT DISTINCT account_id FROM {inserted} WHERE seq IS NULL"


def emit(*, account_id: int, type: EventType, data: dict, endpoint_id: int | None = None) -> bool:
    """Write one event in the current transaction. Returns whether a subscriber
    wants it (and so will be woken after commit)."""
    payload = {"version": VERSION, **data}
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH ins AS (INSERT INTO {EVENTS} ({COLUMN_LIST}) "
            "SELECT v.account_id, v.type, %(endpoint)s, %(payload)s::jsonb, %(now)s, "
            f"{seq('v.account_id', 'v.type')} "
            "FROM (VALUES (%(account)s::bigint, %(type)s::text)) AS v(account_id, type) "
            f"{RETURNING}) {wanted_by('ins')}",
            {
                "account": account_id,
                "type": str(type),
                "endpoint": endpoint_id,
                "payload": orjson.dumps(payload, default=str).decode(),
                "now": timezone.now(),
            },
        )
        wanted = bool(cursor.fetchall())
    if wanted:
        wake([account_id])
    return wanted


def emit_rows(rows: list[dict], *, endpoints: type[models.Model]) -> None:
    """Write a set of events in one INSERT, in the rows' order: each row has
    ``account_id``, ``type``, ``endpoint_id`` and ``data`` (the payload without
    its version and endpoint, which are added here: the endpoint's id and ICCID
    as they are now, read from ``endpoints``, the caller's endpoint model)."""
    _insert_rows(
        rows,
        columns="data jsonb",
        payload=(
            "jsonb_build_object('version', %(version)s::int, 'endpoint', "
            "CASE WHEN e.id IS NULL THEN NULL "
            "ELSE jsonb_build_object('id', e.id, 'iccid', e.iccid) END) || v.data"
        ),
        join=f"LEFT JOIN {_quote(endpoints._meta.db_table)} e ON e.id = v.endpoint_id",
    )


def emit_payloads(rows: list[dict]) -> None:
    """``emit_rows`` for a writer that holds its endpoints locked and knows
    their ICCIDs (a network batch): each row has ``account_id``, ``type``,
    ``endpoint_id``, ``iccid`` and ``data``. The whole payload is built here
    and stored as sent, with no read of the endpoints and no JSON built in
    SQL (a network batch's events statement 9 % shorter, docs/connectivity.md
    "Measured")."""
    _insert_rows(
        [
            {
                "account_id": row["account_id"],
                "type": row["type"],
                "endpoint_id": row["endpoint_id"],
                "payload": {
                    "version": VERSION,
                    "endpoint": {"id": row["endpoint_id"], "iccid": row["iccid"]},
                    **row["data"],
                },
            }
            for row in rows
        ],
        columns="payload jsonb",
        payload="v.payload",
        join="",
    )


def _insert_rows(rows: list[dict], *, columns: str, payload: str, join: str) -> None:
    """The one INSERT of ``emit_rows`` and ``emit_payloads``. Whether a
    subscriber wants an event is asked once per account and type of the set
    (``w``), not once per row: a network batch or bulk chunk holds a handful
    of pairs and hundreds to thousands of rows."""
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH v AS MATERIALIZED (SELECT * FROM json_to_recordset(%(rows)s::json) "
            f"AS v(account_id bigint, type text, endpoint_id bigint, {columns}, n bigint)), "
            "w AS (SELECT k.account_id, k.type FROM (SELECT DISTINCT account_id, type FROM v) k "
            f"WHERE {subscribed('k.account_id', 'k.type')}), "
            f"ins AS (INSERT INTO {EVENTS} ({COLUMN_LIST}) "
            f"SELECT v.account_id, v.type, v.endpoint_id, {payload}, %(now)s, "
            f"CASE WHEN w.account_id IS NULL THEN {NOT_WANTED} END "
            f"FROM v LEFT JOIN w ON w.account_id = v.account_id AND w.type = v.type {join} "
            # The ids (and so the order per endpoint) follow the rows' order.
            "ORDER BY v.n "
            f"{RETURNING}) {wanted_by('ins')}",
            {
                "version": VERSION,
                "now": timezone.now(),
                "rows": orjson.dumps(
                    [{**row, "n": n} for n, row in enumerate(rows)], default=str
                ).decode(),
            },
        )
        accounts = {row[0] for row in cursor.fetchall()}
    wake(accounts)


def wake(account_ids: Iterable[int]) -> None:
    """After commit, wake the subscribers for these accounts' new events (the
    webhooks queue their delivery)."""
    accounts = sorted(set(account_ids))
    if not accounts:
        return

    def queue() -> None:
        for subscriber in _subscribers():
            subscriber.wake(accounts)

    transaction.on_commit(queue)
