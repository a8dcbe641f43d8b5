"""The SQL of a batch of network events: lock and load, then write.

A batch travels to PostgreSQL as ONE parameter per statement: digits joined
by commas, or a JSON document unpacked by json_to_recordset. Quoting 500
values one by one into array literals cost more than the statements did.

Measured at a million endpoints (docs/network-api.md "Speed"), the writes are
what a batch costs: every accepted event moves ``last_activity``, which is
indexed, so no endpoint UPDATE can be HOT and each row adds an entry to every
index of ``inventory_endpoint``. What this module can save it does: the lock
also reads the endpoint columns (no second pass over the rows), the groups
and addresses are read only for endpoints with a session start, and only
endpoints whose state or last activity moved are updated, in id order.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable

import orjson
from django.db import connection
from django.utils import timezone

from events import outbox
from events.models import EventType
from inventory import history
from inventory.models import (
    IMSI,
    Connectivity,
    Endpoint,
    Group,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
)
from inventory.operators import network
from network.contract import ACCEPTED, REJECTED
from network.decisions import LoadedEndpoint, Outcome, Policy, Snapshot
from portal.models import ActorKind

# Table names for the SQL below, quoted, from the models (never spelled out).
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_GROUPS = _quote(Group._meta.db_table)
_HISTORY = _quote(History._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)
_ALLOCATIONS = _quote(IPAllocation._meta.db_table)
_CONNECTIVITY = _quote(Connectivity._meta.db_table)
_EVENTS = _quote(NetworkEvent._meta.db_table)
_MEMBERSHIPS = _quote(SecondaryMembership._meta.db_table)

NETWORK_LABEL = "network"


class LostRace(Exception):
    """Another transaction stored one of our event ids after we looked."""


def _digits(values) -> str:
    return ",".join(str(value) for value in values)


@contextlib.contextmanager
def pipelined():
    """Send the statements run inside without waiting for each answer
    (psycopg's pipeline mode): the server still runs them one after the other,
    in the transaction, and a statement's results are read when asked for.

    A batch's cost is mostly round trips on a busy host: each waits for
    PostgreSQL to be scheduled, answer, and for this thread to be scheduled
    again. Only statements whose ``rowcount`` nobody reads belong here (it is
    known only once the results arrive)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def lock_and_load(
    *, imsis: set[str], session_imsis: set[str], event_ids: list[str]
) -> tuple[dict[str, int], dict[int, LoadedEndpoint], set[str]]:
    """Lock the endpoints of ``imsis`` in id order (two batches never
    deadlock) and read what the decisions need: (IMSI -> endpoint id, endpoint
    id -> endpoint, the event ids already stored).

    Four statements in one round trip. The first locks and reads the
    endpoints: a locking read returns the latest version of a row it waited
    for, but its subqueries would not, so the groups and addresses (only for
    the endpoints with a session start), the ``Connectivity`` rows and the
    stored ids are statements of their own, run after it (so after the locks)
    by the server. ``Connectivity`` is written only by batches, under the
    endpoint's lock, so it is current; an event id another transaction stores
    meanwhile is caught by ``insert_events``."""
    with (
        connection.cursor() as lock,
        connection.cursor() as groups,
        connection.cursor() as snapshots,
        connection.cursor() as stored,
    ):
        with pipelined():
            lock.execute(
                f"""
                SELECT i.imsi, e.id, e.account_id, e.iccid, e.state, e.primary_group_id,
                       e.imei_lock_enabled, e.imei, e.last_activity
                  FROM {_IMSIS} i
                  JOIN {_ENDPOINTS} e ON e.id = i.endpoint_id
                 WHERE i.imsi = ANY(string_to_array(%(imsis)s, ','))
                 ORDER BY e.id
                   FOR NO KEY UPDATE OF e
                """,
                {"imsis": _digits(sorted(imsis))},
            )
            if session_imsis:
                groups.execute(
                    f"""
                    SELECT e.id,
                           (SELECT json_agg(json_build_array(g.id, g.apn, g.name, g.operator_policy,
                                                             g.policy_countries, g.policy_plmns)
                                            ORDER BY g.id <> e.primary_group_id, g.id)
                              FROM {_GROUPS} g
                             WHERE g.id = ANY(array_prepend(
                                       e.primary_group_id,
                                       ARRAY(SELECT m.group_id FROM {_MEMBERSHIPS} m
                                              WHERE m.endpoint_id = e.id)))),
                           (SELECT json_agg(json_build_array(a.group_id, host(a.address)))
                              FROM {_ALLOCATIONS} a
                             WHERE a.endpoint_id = e.id)
                      FROM {_ENDPOINTS} e
                     WHERE e.id IN (SELECT i.endpoint_id FROM {_IMSIS} i
                                     WHERE i.imsi = ANY(string_to_array(%(imsis)s, ',')))
                    """,
                    {"imsis": _digits(sorted(session_imsis))},
                )
            snapshots.execute(
                f"""
                SELECT c.endpoint_id, {_SNAPSHOT_SELECT} FROM {_CONNECTIVITY} c
                 WHERE c.endpoint_id IN (SELECT i.endpoint_id FROM {_IMSIS} i
                                          WHERE i.imsi = ANY(string_to_array(%(imsis)s, ',')))
                """,
                {"imsis": _digits(sorted(imsis))},
            )
            stored.execute(
                f"""
                SELECT event_id FROM {_EVENTS}
                 WHERE event_id = ANY(ARRAY(SELECT json_array_elements_text(%(ids)s::json)))
                """,
                {"ids": orjson.dumps(event_ids).decode()},
            )
        # Out of the pipeline: every answer has arrived.
        by_imsi, endpoints = _locked(lock.fetchall())
        if session_imsis:
            _add_sessions(endpoints, groups.fetchall())
        _add_snapshots(endpoints, snapshots.fetchall())
        return by_imsi, endpoints, {row[0] for row in stored.fetchall()}


def _locked(rows) -> tuple[dict[str, int], dict[int, LoadedEndpoint]]:
    by_imsi: dict[str, int] = {}
    endpoints: dict[int, LoadedEndpoint] = {}
    for imsi, pk, account_id, iccid, state, group_id, lock, imei, last_activity in rows:
        by_imsi[imsi] = pk
        if pk not in endpoints:
            endpoints[pk] = LoadedEndpoint(
                id=pk,
                account_id=account_id,
                iccid=iccid,
                state=state,
                primary_group_id=group_id,
                imei_lock_enabled=lock,
                imei=imei,
                last_activity=last_activity,
            )
    return by_imsi, endpoints


def _add_sessions(endpoints: dict[int, LoadedEndpoint], rows) -> None:
    """The groups' APNs, names and policies and the addresses of the locked
    endpoints with a session start (the others need neither)."""
    for pk, apns, addresses in rows:
        endpoint = endpoints.get(pk)
        if endpoint is None:
            continue  # its IMSI moved to it after the lock: not in this batch
        apns, addresses = _json(apns), _json(addresses)
        endpoint.apns = {group[0]: group[1] for group in apns or []}
        endpoint.group_names = {group[0]: group[2] for group in apns or []}
        endpoint.policies = {
            group[0]: Policy(
                mode=group[3], countries=frozenset(group[4]), plmns=frozenset(group[5])
            )
            for group in apns or []
            if group[3] != _ANY
        }
        endpoint.addresses = dict(addresses or [])


#: The columns of ``Connectivity`` the batch reads and writes, in ``Snapshot`` order.
_SNAPSHOT_FIELDS = tuple(Snapshot.__dataclass_fields__)
_SNAPSHOT_COLUMNS = ", ".join(_SNAPSHOT_FIELDS)
_SNAPSHOT_SELECT = ", ".join(f"c.{name}" for name in _SNAPSHOT_FIELDS)


def _add_snapshots(endpoints: dict[int, LoadedEndpoint], rows) -> None:
    for pk, *values in rows:
        endpoint = endpoints.get(pk)
        if endpoint is None:
            continue
        snapshot = Snapshot(*values)
        if snapshot.session_ip is not None:
            snapshot.session_ip = str(snapshot.session_ip)
        endpoint.snapshot = snapshot


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _rows(rows: list[dict]) -> str:
    """Rows for json_to_recordset (datetimes as ISO 8601 with their zone).

    orjson, not json: encoding the four documents of a batch of 500 took
    13 ms of the batch's ~50 ms of Python with the standard library. The
    values are already checked storable text (no lone surrogates)."""
    return orjson.dumps(rows).decode()


def _final_endpoints(outcomes: list[Outcome]) -> dict[int, LoadedEndpoint]:
    """Each endpoint as the last of its outcomes in the batch left it."""
    return {o.endpoint.id: o.endpoint for o in outcomes if o.endpoint is not None}


def update_endpoints(loaded: dict[int, LoadedEndpoint], outcomes: list[Outcome]) -> None:
    """One UPDATE for every endpoint whose state or last activity moved."""
    final = _final_endpoints(outcomes)
    rows = [
        {
            "id": endpoint.id,
            "state": endpoint.state,
            "last_activity": endpoint.last_activity,
            "state_changed_at": endpoint.state_changed_at,
        }
        for endpoint in sorted(final.values(), key=lambda endpoint: endpoint.id)
        if endpoint.state != loaded[endpoint.id].state
        or endpoint.last_activity != loaded[endpoint.id].last_activity
    ]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_ENDPOINTS} e
               SET state = v.state,
                   last_activity = GREATEST(e.last_activity, v.last_activity),
                   state_changed_at = COALESCE(v.state_changed_at, e.state_changed_at)
              FROM json_to_recordset(%(rows)s::json)
                   AS v(id bigint, state text, last_activity timestamptz,
                        state_changed_at timestamptz)
             WHERE e.id = v.id
            """,
            {"rows": _rows(rows)},
        )


def update_connectivity(loaded: dict[int, LoadedEndpoint], outcomes: list[Outcome]) -> None:
    """One INSERT … ON CONFLICT for every endpoint whose snapshot moved."""
    final = _final_endpoints(outcomes)
    rows = [
        {"endpoint_id": pk, **endpoint.snapshot.__dict__}
        for pk, endpoint in sorted(final.items())
        if endpoint.snapshot != loaded[pk].snapshot
    ]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_CONNECTIVITY} (endpoint_id, {_SNAPSHOT_COLUMNS})
            SELECT v.endpoint_id, {", ".join(f"v.{name}" for name in _SNAPSHOT_FIELDS)}
              FROM json_to_recordset(%(rows)s::json)
                   AS v(endpoint_id bigint, session_started_at timestamptz,
                        session_ended_at timestamptz, session_ip inet, session_apn text,
                        session_bytes_up bigint, session_bytes_down bigint, plmn text,
                        rat text, network_seen_at timestamptz, imei text,
                        refused_at timestamptz, refused_reason text, refused_event_id text,
                        refused_imei text, refused_plmn text)
            ON CONFLICT (endpoint_id) DO UPDATE SET
            {", ".join(f"{name} = EXCLUDED.{name}" for name in _SNAPSHOT_FIELDS)}
            """,
            {"rows": _rows(rows)},
        )


def insert_history(outcomes: list[Outcome], batch: uuid.UUID) -> None:
    """One INSERT for the state changes, first addresses and rejections."""
    rows = [
        {
            "account_id": outcome.endpoint.account_id,
            "endpoint_id": outcome.endpoint.id,
            "at": outcome.event.at,
            **outcome.history,
        }
        for outcome in outcomes
        if outcome.history and outcome.endpoint
    ]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_HISTORY} ({history.COLUMN_LIST})
            SELECT v.account_id, v.endpoint_id, v.at, %(kind)s, NULL, %(label)s, v.action,
                   v.from_state, v.to_state, v.changes, v.reason, %(batch)s
              FROM json_to_recordset(%(rows)s::json)
                   AS v(account_id bigint, endpoint_id bigint, at timestamptz, action text,
                        from_state text, to_state text, changes jsonb, reason text)
            """,
            {
                "kind": ActorKind.NETWORK,
                "label": NETWORK_LABEL,
                "batch": batch,
                "rows": _rows(rows),
            },
        )


def insert_events(outcomes: list[Outcome]) -> Callable[[], None]:
    """One INSERT storing every decided event with its outcome. An id another
    transaction stored since we looked is skipped, and then the batch is
    decided again: the function returned raises ``LostRace`` then. It is
    called once the batch's other writes are sent, so that inside
    ``pipelined()`` they travel together."""
    if not outcomes:
        return lambda: None
    rows = [
        {
            "event_id": o.event.id,
            "account_id": o.endpoint.account_id if o.endpoint else None,
            "endpoint_id": o.endpoint.id if o.endpoint else None,
            "group_id": o.group_id,
            "type": o.event.type,
            "imsi": o.event.imsi,
            "imei": o.event.imei,
            "apn": o.event.apn,
            "at": o.event.at,
            "status": o.status,
            "reason": o.reason,
            "ip": o.ip if o.status == ACCEPTED else None,
            "plmn": o.event.plmn,
            "rat": o.event.rat,
        }
        for o in outcomes
    ]
    cursor = connection.cursor()
    cursor.execute(
        f"""
        INSERT INTO {_EVENTS}
               (event_id, account_id, endpoint_id, group_id, type, imsi, imei, apn, at,
                received_at, status, reason, ip, plmn, rat)
        SELECT v.event_id, v.account_id, v.endpoint_id, v.group_id, v.type, v.imsi,
               v.imei, v.apn, v.at, %(received_at)s, v.status, v.reason, v.ip, v.plmn, v.rat
          FROM json_to_recordset(%(rows)s::json)
               AS v(event_id text, account_id bigint, endpoint_id bigint, group_id bigint,
                    type text, imsi text, imei text, apn text, at timestamptz,
                    status text, reason text, ip inet, plmn text, rat text)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
        """,
        {"received_at": timezone.now(), "rows": _rows(rows)},
    )

    def confirm() -> None:
        with cursor:
            if len(cursor.fetchall()) != len(outcomes):
                raise LostRace

    return confirm


_ANY = "any"
_SESSION_START = "session_start"
_SESSION_END = "session_end"
_STATE_CHANGED = EventType.STATE_CHANGED.value
_SESSION_STARTED = EventType.SESSION_STARTED.value
_SESSION_ENDED = EventType.SESSION_ENDED.value
_SESSION_REJECTED = EventType.SESSION_REJECTED.value
_NETWORK_CHANGED = EventType.NETWORK_CHANGED.value
_IMEI_CHANGED = EventType.IMEI_CHANGED.value


def network_payload(plmn: str | None) -> dict | None:
    """A serving network as account events show it (docs/webhooks.md)."""
    if not plmn:
        return None
    found = network(plmn)
    return {
        "plmn": plmn,
        "operator": found.operator,
        "country": found.country_code,
        "country_name": found.country,
    }


def insert_account_events(outcomes: list[Outcome]) -> None:
    """One INSERT of the account events of the batch (docs/webhooks.md), all
    stored for the event log: state changes, sessions started and ended,
    sessions rejected, network and IMEI changes (an unknown IMSI belongs to no
    account: none)."""
    rows = []
    for o in outcomes:
        endpoint = o.endpoint
        if endpoint is None:
            continue
        event = o.event
        base = {"imsi": event.imsi, "at": event.at, "network_event_id": event.id}
        history = o.history
        if history and history.get("from_state") != history.get("to_state"):
            rows.append(
                {
                    "account_id": endpoint.account_id,
                    "type": _STATE_CHANGED,
                    "endpoint_id": endpoint.id,
                    "iccid": endpoint.iccid,
                    "data": {
                        **base,
                        "action": event.type,
                        "from_state": history.get("from_state"),
                        "to_state": history.get("to_state"),
                        "reason": "",
                        "actor": {"kind": ActorKind.NETWORK, "label": NETWORK_LABEL},
                        "group": None,
                    },
                }
            )
        if o.network_change:
            before, after = o.network_change
            rows.append(
                {
                    "account_id": endpoint.account_id,
                    "type": _NETWORK_CHANGED,
                    "endpoint_id": endpoint.id,
                    "iccid": endpoint.iccid,
                    "data": {
                        **base,
                        "from": network_payload(before),
                        "to": network_payload(after),
                        "rat": event.rat,
                    },
                }
            )
        if o.imei_change:
            before, after = o.imei_change
            rows.append(
                {
                    "account_id": endpoint.account_id,
                    "type": _IMEI_CHANGED,
                    "endpoint_id": endpoint.id,
                    "iccid": endpoint.iccid,
                    "data": {**base, "from": before, "to": after},
                }
            )
        if event.type == _SESSION_START and o.status == ACCEPTED:
            type_ = _SESSION_STARTED
            data = {**base, "apn": event.apn, "ip": o.ip}
        elif event.type == _SESSION_END and o.status == ACCEPTED:
            type_ = _SESSION_ENDED
            data = base
        elif event.type == _SESSION_START and o.status == REJECTED:
            type_ = _SESSION_REJECTED
            data = {
                **base,
                "apn": event.apn,
                "imei": event.imei,
                "reason": o.reason,
                "network": network_payload(event.plmn),
            }
        else:
            continue
        rows.append(
            {
                "account_id": endpoint.account_id,
                "type": type_,
                "endpoint_id": endpoint.id,
                "iccid": endpoint.iccid,
                "data": data,
            }
        )
    outbox.emit_payloads(rows)
