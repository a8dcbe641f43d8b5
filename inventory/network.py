"""What a batch of network events does (PRODUCT.md "Network events").

The packet core reports what devices do: attach → Idle, session start → Active
(with an automatic address on the first session in a group), session end →
Idle, detach → Detached. A session start is refused with a reason code for an
unknown IMSI, a Pending/Suspended/Terminated endpoint, an unknown APN, a broken
IMEI lock or a full subnet. Every accepted event moves the endpoint's last
activity forward, never back; an older event is ``stale`` and a repeated id a
``duplicate``: both change nothing.

A batch is processed set-based, because the core sends thousands of events a
second against a million endpoints: one statement locks the endpoints of all
the batch's IMSIs (in id order, so that two batches never deadlock), one loads
them with their groups and addresses, the decisions are made in Python on that
snapshot, and then one UPDATE moves all changed endpoints, one INSERT writes
their history and one INSERT stores the events. Addresses come from
``addressing.allocate_auto`` in one call.

Replays are applied once even when two clients post the same event at the same
moment: ids already stored are looked up only after the endpoints are locked,
and the final INSERT of the events skips ids that another transaction stored
meanwhile (``ON CONFLICT DO NOTHING``); if any was skipped, the whole batch is
rolled back and decided again, now seeing those ids as duplicates.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from inventory import addressing
from inventory.identifiers import clean_imei, clean_imsi, imei_matches
from inventory.models import IN_SERVICE_STATES, ActorKind, EventStatus, EventType, State

#: Most events one request may carry.
MAX_EVENTS = 1000
MAX_ID_LENGTH = 100
MAX_APN_LENGTH = 100
_MAX_TIME_LENGTH = 64
#: Accepted event times: a clock far ahead would make every later event of the
#: endpoint stale, and events older than the 30 days kept are of no use.
MAX_FUTURE = timedelta(hours=1)
MAX_AGE = timedelta(days=30)
#: Times a batch is decided again after losing a race on an event id.
_ATTEMPTS = 3

NETWORK_LABEL = "network"

# Plain strings in the per-event code: an enum member lookup costs a
# descriptor call each time, thousands of times per batch.
ACCEPTED = EventStatus.ACCEPTED.value
REJECTED = EventStatus.REJECTED.value
STALE = EventStatus.STALE.value
DUPLICATE = EventStatus.DUPLICATE.value
INVALID = EventStatus.INVALID.value
SESSION_START = EventType.SESSION_START.value
_EVENT_TYPES = frozenset(EventType.values)
_IN_SERVICE = frozenset(state.value for state in IN_SERVICE_STATES)

_NEXT_STATE = {
    EventType.ATTACH.value: State.IDLE.value,
    EventType.SESSION_START.value: State.ACTIVE.value,
    EventType.SESSION_END.value: State.IDLE.value,
    EventType.DETACH.value: State.DETACHED.value,
}


class Reason:
    """Reason codes of the results (snake_case, part of the API contract)."""

    # rejected
    UNKNOWN_IMSI = "unknown_imsi"
    PENDING = "pending"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"
    UNKNOWN_APN = "unknown_apn"
    IMEI_MISMATCH = "imei_mismatch"
    SUBNET_FULL = "subnet_full"
    # stale
    OLDER_THAN_LAST_ACTIVITY = "older_than_last_activity"
    # duplicate
    ALREADY_RECEIVED = "already_received"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    # invalid
    NOT_AN_OBJECT = "not_an_object"
    MISSING_ID = "missing_id"
    BAD_ID = "bad_id"
    BAD_TYPE = "bad_type"
    BAD_IMSI = "bad_imsi"
    BAD_IMEI = "bad_imei"
    BAD_APN = "bad_apn"
    BAD_TIME = "bad_time"


#: The rejection reason of a session start, by endpoint state.
_NOT_IN_SERVICE = {
    State.PENDING.value: Reason.PENDING,
    State.SUSPENDED.value: Reason.SUSPENDED,
    State.TERMINATED.value: Reason.TERMINATED,
}


@dataclass
class EventResult:
    """The answer for one event, in request order."""

    id: str | None
    status: str
    reason: str = ""
    state: str = ""
    ip: str | None = None

    def as_json(self) -> dict:
        data: dict = {"id": self.id, "status": self.status}
        if self.reason:
            data["reason"] = self.reason
        if self.state:
            data["state"] = self.state
        if self.ip:
            data["ip"] = self.ip
        return data


@dataclass(frozen=True)
class Event:
    """A well-formed event; ``index`` is its position in the request."""

    index: int
    id: str
    type: str
    imsi: str
    imei: str
    apn: str
    at: datetime


@dataclass
class _Endpoint:
    """The locked endpoint as loaded, then as the batch's events leave it."""

    id: int
    account_id: int
    state: str
    primary_group_id: int | None
    imei_lock_enabled: bool
    imei: str
    last_activity: datetime | None
    state_changed_at: datetime | None = None
    #: group id -> APN, primary group first.
    apns: dict[int, str] = field(default_factory=dict)
    #: group id -> group name, for the history.
    group_names: dict[int, str] = field(default_factory=dict)
    #: group id -> address held in that group (static or auto).
    addresses: dict[int, str] = field(default_factory=dict)

    def copy(self) -> _Endpoint:
        return replace(self, apns=dict(self.apns), addresses=dict(self.addresses))


@dataclass
class _Outcome:
    """What one event did, before it is written."""

    event: Event
    status: str
    reason: str = ""
    endpoint: _Endpoint | None = None
    state: str = ""
    group_id: int | None = None
    ip: str | None = None
    history: dict | None = None


class _LostRace(Exception):
    """Another transaction stored one of our event ids after we looked."""


# --- parsing ------------------------------------------------------------------


def parse_event(raw: object, index: int) -> Event | EventResult:
    """An ``Event``, or the ``invalid`` result saying what is wrong with it."""
    if not isinstance(raw, dict):
        return EventResult(id=None, status=INVALID, reason=Reason.NOT_AN_OBJECT)
    event_id = raw.get("id")
    shown_id = event_id if isinstance(event_id, str) else None
    if event_id is None or event_id == "":
        return EventResult(id=shown_id, status=INVALID, reason=Reason.MISSING_ID)
    if not isinstance(event_id, str) or len(event_id) > MAX_ID_LENGTH or not _storable(event_id):
        shown = shown_id[:MAX_ID_LENGTH] if shown_id else None
        return EventResult(id=shown, status=INVALID, reason=Reason.BAD_ID)

    def invalid(reason: str) -> EventResult:
        return EventResult(id=event_id, status=INVALID, reason=reason)

    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in _EVENT_TYPES:
        return invalid(Reason.BAD_TYPE)
    try:
        imsi = clean_imsi(raw.get("imsi")) if isinstance(raw.get("imsi"), str) else None
    except ValidationError:
        imsi = None
    if imsi is None:
        return invalid(Reason.BAD_IMSI)
    imei = raw.get("imei")
    if imei is None or imei == "":
        imei = ""
    else:
        try:
            imei = clean_imei(imei) if isinstance(imei, str) else None
        except ValidationError:
            imei = None
        if imei is None:
            return invalid(Reason.BAD_IMEI)
    apn = raw.get("apn")
    if apn is None:
        apn = ""
    if not isinstance(apn, str) or len(apn) > MAX_APN_LENGTH or not _storable(apn):
        return invalid(Reason.BAD_APN)
    at = _parse_time(raw.get("at"))
    if at is None:
        return invalid(Reason.BAD_TIME)
    return Event(
        index=index, id=event_id, type=event_type, imsi=imsi, imei=imei, apn=apn.strip(), at=at
    )


def _storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor unpaired surrogates (which JSON allows)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _parse_time(value: object) -> datetime | None:
    """ISO 8601 with a zone ("Z" or an offset); a local time is ambiguous."""
    if not isinstance(value, str) or len(value) > _MAX_TIME_LENGTH:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        return None
    now = timezone.now()
    if not now - MAX_AGE <= at <= now + MAX_FUTURE:
        return None
    return at


# --- the batch ----------------------------------------------------------------


def apply_events(*, events: list) -> list[EventResult]:
    """Apply a batch of raw (decoded JSON) events; one result per event, in
    request order. Invalid events are answered and not stored; the others are
    decided and stored with their outcome in one transaction."""
    if len(events) > MAX_EVENTS:
        raise ValueError(f"at most {MAX_EVENTS} events per batch")
    results: list[EventResult | None] = [None] * len(events)
    valid: list[Event] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        parsed = parse_event(raw, index)
        if isinstance(parsed, EventResult):
            results[index] = parsed
        elif parsed.id in seen:
            results[index] = EventResult(
                id=parsed.id, status=DUPLICATE, reason=Reason.DUPLICATE_IN_BATCH
            )
        else:
            seen.add(parsed.id)
            valid.append(parsed)

    if valid:
        for attempt in range(_ATTEMPTS):
            try:
                outcomes = _apply(valid)
                break
            except _LostRace:
                if attempt == _ATTEMPTS - 1:
                    raise
        for outcome in outcomes:
            results[outcome.event.index] = EventResult(
                id=outcome.event.id,
                status=outcome.status,
                reason=outcome.reason,
                state=outcome.state,
                ip=outcome.ip,
            )
    return [result for result in results if result is not None]


def _apply(events: list[Event]) -> list[_Outcome]:
    with transaction.atomic():
        by_imsi = _lock_endpoints({event.imsi for event in events})
        sessions = {by_imsi.get(e.imsi) for e in events if e.type == SESSION_START}
        endpoints = _load_endpoints(set(by_imsi.values()), sessions=sessions)
        stored = _stored_ids([event.id for event in events])

        fresh = [event for event in events if event.id not in stored]
        outcomes = [
            _Outcome(
                event=event,
                status=DUPLICATE,
                reason=Reason.ALREADY_RECEIVED,
                state=_state_of(endpoints, by_imsi, event),
            )
            for event in events
            if event.id in stored
        ]
        # Decide, allocate the first addresses the accepted sessions need, and
        # decide again knowing which subnets were full (that never asks for more).
        allocated: dict[tuple[int, int], str | None] = {}
        while True:
            decided, wanted = _decide(fresh, by_imsi, endpoints, allocated=allocated)
            missing = wanted - allocated.keys()
            if not missing:
                break
            addresses = addressing.allocate_auto(memberships=sorted(missing))
            allocated.update({pair: addresses.get(pair) for pair in missing})
        outcomes.extend(decided)

        batch = uuid.uuid4()
        _update_endpoints(endpoints, decided)
        _insert_history(decided, batch)
        _insert_events(decided)
    return outcomes


def _state_of(endpoints: dict[int, _Endpoint], by_imsi: dict[str, int], event: Event) -> str:
    endpoint = endpoints.get(by_imsi.get(event.imsi, 0))
    return endpoint.state if endpoint else ""


def _decide(
    events: list[Event],
    by_imsi: dict[str, int],
    loaded: dict[int, _Endpoint],
    *,
    allocated: dict[tuple[int, int], str | None],
) -> tuple[list[_Outcome], set[tuple[int, int]]]:
    """Decide every event on a copy of the loaded endpoints. Returns the outcomes
    and the (endpoint, group) memberships that need an automatic address and
    were not in ``allocated`` (an address, or None for a full subnet)."""
    endpoints = {pk: endpoint.copy() for pk, endpoint in loaded.items()}
    outcomes: list[_Outcome] = []
    wanted: set[tuple[int, int]] = set()
    per_endpoint: dict[int, list[Event]] = {}
    for event in events:
        endpoint_id = by_imsi.get(event.imsi)
        if endpoint_id is None:
            outcomes.append(_Outcome(event=event, status=REJECTED, reason=Reason.UNKNOWN_IMSI))
        else:
            per_endpoint.setdefault(endpoint_id, []).append(event)
    for endpoint_id, endpoint_events in per_endpoint.items():
        endpoint = endpoints[endpoint_id]
        # Each endpoint's events in the order they happened (ties: request order).
        for event in sorted(endpoint_events, key=lambda e: (e.at, e.index)):
            outcomes.append(_decide_one(event, endpoint, allocated, wanted))
    return outcomes, wanted


def _decide_one(
    event: Event,
    endpoint: _Endpoint,
    allocated: dict[tuple[int, int], str | None],
    wanted: set[tuple[int, int]],
) -> _Outcome:
    outcome = _Outcome(event=event, status=ACCEPTED, endpoint=endpoint)
    outcome.group_id = endpoint.primary_group_id
    if endpoint.last_activity is not None and event.at < endpoint.last_activity:
        outcome.status, outcome.reason = STALE, Reason.OLDER_THAN_LAST_ACTIVITY
        outcome.state = endpoint.state
        return outcome

    from_state = endpoint.state
    new_address = False
    if event.type == SESSION_START:
        reason, group_id = _session_refusal(event, endpoint)
        outcome.group_id = group_id if group_id is not None else outcome.group_id
        if not reason:
            pair = (endpoint.id, group_id)
            if group_id in endpoint.addresses:
                outcome.ip = endpoint.addresses[group_id]
            elif pair in allocated:
                outcome.ip = allocated[pair]
                if outcome.ip is None:
                    reason = Reason.SUBNET_FULL
                else:
                    endpoint.addresses[group_id] = outcome.ip
                    new_address = True
            else:
                wanted.add(pair)
        if reason:
            outcome.status, outcome.reason, outcome.state = (
                REJECTED,
                reason,
                endpoint.state,
            )
            outcome.history = {
                "action": "session_rejected",
                "from_state": "",
                "to_state": "",
                "reason": reason,
                "changes": _event_changes(event),
            }
            return outcome

    if endpoint.state in _IN_SERVICE:
        endpoint.state = _NEXT_STATE[event.type]
    endpoint.last_activity = event.at
    outcome.state = endpoint.state
    if endpoint.state != from_state or new_address:
        if endpoint.state != from_state:
            endpoint.state_changed_at = event.at
        changes = _event_changes(event)
        if new_address:
            changes["group"] = endpoint.group_names.get(outcome.group_id, "")
            changes["ip"] = [None, outcome.ip]
        outcome.history = {
            "action": event.type,
            "from_state": from_state,
            "to_state": endpoint.state,
            "reason": "",
            "changes": changes,
        }
    return outcome


def _session_refusal(event: Event, endpoint: _Endpoint) -> tuple[str, int | None]:
    """(reason code or "", the group the session would use)."""
    if endpoint.state in _NOT_IN_SERVICE:
        return _NOT_IN_SERVICE[endpoint.state], None
    if event.apn:
        wanted = event.apn.lower()
        group_id = next(
            (pk for pk, apn in endpoint.apns.items() if apn.lower() == wanted),
            None,
        )
        if group_id is None:
            return Reason.UNKNOWN_APN, None
    else:
        group_id = endpoint.primary_group_id
    if endpoint.imei_lock_enabled and not imei_matches(endpoint.imei, event.imei):
        return Reason.IMEI_MISMATCH, group_id
    return "", group_id


def _event_changes(event: Event) -> dict:
    changes: dict = {"event": event.id}
    if event.apn:
        changes["apn"] = event.apn
    if event.imei:
        changes["imei"] = event.imei
    return changes


# --- SQL ----------------------------------------------------------------------
#
# A batch travels to PostgreSQL as ONE parameter per statement: digits joined
# by commas, or a JSON document unpacked by json_to_recordset. Quoting 500
# values one by one into array literals cost more than the statements did.


def _digits(values) -> str:
    return ",".join(str(value) for value in values)


def _lock_endpoints(imsis: set[str]) -> dict[str, int]:
    """Lock the endpoints of ``imsis`` in id order; IMSI -> endpoint id."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.imsi, e.id
              FROM inventory_imsi i
              JOIN inventory_endpoint e ON e.id = i.endpoint_id
             WHERE i.imsi = ANY(string_to_array(%s, ','))
             ORDER BY e.id
               FOR NO KEY UPDATE OF e
            """,
            [_digits(sorted(imsis))],
        )
        return dict(cursor.fetchall())


def _load_endpoints(ids: set[int], *, sessions: set[int | None]) -> dict[int, _Endpoint]:
    """The locked endpoints; with their groups' APNs and their addresses for
    those with a session start in the batch (``sessions``), the others need
    neither.

    A statement of its own after the lock: a locking read sees the latest
    version of a row it waited for, but its subqueries would not."""
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT e.id, e.account_id, e.state, e.primary_group_id, e.imei_lock_enabled,
                   e.imei, e.last_activity,
                   CASE WHEN e.id = ANY(string_to_array(%s, ',')::bigint[]) THEN
                   (SELECT json_agg(json_build_array(g.id, g.apn, g.name)
                                    ORDER BY g.id <> e.primary_group_id, g.id)
                      FROM inventory_group g
                     WHERE g.id = ANY(array_prepend(
                               e.primary_group_id,
                               ARRAY(SELECT m.group_id FROM inventory_secondarymembership m
                                      WHERE m.endpoint_id = e.id))))
                   END,
                   CASE WHEN e.id = ANY(string_to_array(%s, ',')::bigint[]) THEN
                   (SELECT json_agg(json_build_array(a.group_id, host(a.address)))
                      FROM inventory_ipallocation a
                     WHERE a.endpoint_id = e.id)
                   END
              FROM inventory_endpoint e
             WHERE e.id = ANY(string_to_array(%s, ',')::bigint[])
            """,
            [_digits(sorted(sessions & ids))] * 2 + [_digits(sorted(ids))],
        )
        endpoints = {}
        for row in cursor.fetchall():
            apns, addresses = (_json(value) for value in row[7:9])
            endpoints[row[0]] = _Endpoint(
                id=row[0],
                account_id=row[1],
                state=row[2],
                primary_group_id=row[3],
                imei_lock_enabled=row[4],
                imei=row[5],
                last_activity=row[6],
                apns={group[0]: group[1] for group in apns or []},
                group_names={group[0]: group[2] for group in apns or []},
                addresses=dict(addresses or []),
            )
        return endpoints


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _rows(rows: list[dict]) -> str:
    """Rows for json_to_recordset (datetimes as ISO 8601 with their zone)."""
    return json.dumps(rows, default=datetime.isoformat)


def _stored_ids(event_ids: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT event_id FROM inventory_networkevent
             WHERE event_id = ANY(ARRAY(SELECT json_array_elements_text(%s::json)))
            """,
            [json.dumps(event_ids)],
        )
        return {row[0] for row in cursor.fetchall()}


def _update_endpoints(loaded: dict[int, _Endpoint], outcomes: list[_Outcome]) -> None:
    """One UPDATE for every endpoint whose state or last activity moved."""
    final: dict[int, _Endpoint] = {}
    for outcome in outcomes:
        if outcome.endpoint is not None:
            final[outcome.endpoint.id] = outcome.endpoint
    rows = [
        {
            "id": endpoint.id,
            "state": endpoint.state,
            "last_activity": endpoint.last_activity,
            "state_changed_at": endpoint.state_changed_at,
        }
        for endpoint in final.values()
        if endpoint.state != loaded[endpoint.id].state
        or endpoint.last_activity != loaded[endpoint.id].last_activity
    ]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE inventory_endpoint e
               SET state = v.state,
                   last_activity = GREATEST(e.last_activity, v.last_activity),
                   state_changed_at = COALESCE(v.state_changed_at, e.state_changed_at)
              FROM json_to_recordset(%s::json)
                   AS v(id bigint, state text, last_activity timestamptz,
                        state_changed_at timestamptz)
             WHERE e.id = v.id
            """,
            [_rows(rows)],
        )


def _insert_history(outcomes: list[_Outcome], batch: uuid.UUID) -> None:
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
            """
            INSERT INTO inventory_history
                   (account_id, endpoint_id, at, actor_kind, actor_id, actor_label, action,
                    from_state, to_state, changes, reason, batch)
            SELECT v.account_id, v.endpoint_id, v.at, %s, NULL, %s, v.action,
                   v.from_state, v.to_state, v.changes, v.reason, %s
              FROM json_to_recordset(%s::json)
                   AS v(account_id bigint, endpoint_id bigint, at timestamptz, action text,
                        from_state text, to_state text, changes jsonb, reason text)
            """,
            [ActorKind.NETWORK, NETWORK_LABEL, batch, _rows(rows)],
        )


def _insert_events(outcomes: list[_Outcome]) -> None:
    """One INSERT storing every decided event with its outcome. An id another
    transaction stored since we looked is skipped, and then the batch is
    decided again (``_LostRace``)."""
    if not outcomes:
        return
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
        }
        for o in outcomes
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO inventory_networkevent
                   (event_id, account_id, endpoint_id, group_id, type, imsi, imei, apn, at,
                    received_at, status, reason, ip)
            SELECT v.event_id, v.account_id, v.endpoint_id, v.group_id, v.type, v.imsi,
                   v.imei, v.apn, v.at, %s, v.status, v.reason, v.ip
              FROM json_to_recordset(%s::json)
                   AS v(event_id text, account_id bigint, endpoint_id bigint, group_id bigint,
                        type text, imsi text, imei text, apn text, at timestamptz,
                        status text, reason text, ip inet)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id
            """,
            [timezone.now(), _rows(rows)],
        )
        if len(cursor.fetchall()) != len(outcomes):
            raise _LostRace
