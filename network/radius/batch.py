"""A batch of RADIUS requests, decided by the network API's own batch code
(docs/radius.md "Batching").

The server gathers the requests that arrive together and hands them here, in a
thread, as one list. Each becomes a network event, exactly as the JSON API would
receive it, and ``apply_events`` decides them all in ONE transaction with this
module's own writes (the accounting state of the sessions):

- Access-Request → ``session_start`` (id: the NAS and the Request Authenticator);
- Accounting Start → ``session_start``; Interim-Update → ``session_update`` with
  the growth of the cumulative counters since the session's last applied report;
  Stop → ``session_end`` with its last growth; Accounting-On/Off → a
  ``session_end`` for every open session of that NAS.

An accounting event's id is the NAS, the Acct-Session-Id, the status and the
counters: a retransmission, or the same report sent again, is the same event and
so a ``duplicate`` the batch code ignores (answered, applied once). Reports of
one session are serialised across batches and processes: by the session's row
lock, or for a session not stored yet by a transaction-level advisory lock on
it, taken before anything else.

Nothing is answered before the transaction commits: the server sends the
answers this returns only afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

import orjson
from django.db import connection, transaction
from django.utils import timezone

from inventory.models import IMSI, Endpoint, EventStatus, EventType, NetworkEvent
from network import batch as network
from network import writes
from network.models import RadiusSession
from network.radius import packets
from network.radius.packets import Request

_quote = connection.ops.quote_name
_SESSIONS = _quote(RadiusSession._meta.db_table)
_EVENTS = _quote(NetworkEvent._meta.db_table)
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)

ACCEPTED = EventStatus.ACCEPTED.value
DUPLICATE = EventStatus.DUPLICATE.value
SESSION_START = EventType.SESSION_START.value
SESSION_UPDATE = EventType.SESSION_UPDATE.value
SESSION_END = EventType.SESSION_END.value
#: The advisory-lock namespace of RADIUS sessions ("RADS").
_LOCK_SPACE = 0x52414453
#: Most events one call of the network batch takes.
_CHUNK = network.MAX_EVENTS


@dataclass
class Answer:
    """What the server answers: for an Access-Request accept (with an address)
    or reject (with the reason code); an Accounting-Request is answered once
    stored (``accept`` then says only that it was)."""

    accept: bool
    ip: str | None = None
    reason: str = ""


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()[:24]


def _lock_key(client_id: int, session_id: str) -> int:
    digest = hashlib.sha256(f"{client_id}:{session_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


@dataclass
class _Session:
    """A session's accounting state while the batch runs."""

    client_id: int
    session_id: str
    imsi: str
    user_name: str = ""
    framed_ip: str | None = None
    input_octets: int = 0
    output_octets: int = 0
    account_id: int | None = None
    endpoint_id: int | None = None
    ended: bool = False
    changed: bool = False


def decide(requests: list[Request]) -> list[Answer]:
    """Decide and store the batch; one answer per request, in order."""
    now = timezone.now()
    # Access-Requests that name no session write nothing of ours: the network
    # batch's own transaction is all they need (two round trips fewer than a
    # savepoint inside ours).
    own_writes = any(r.kind == "acct" or r.session_id for r in requests)
    with transaction.atomic() if own_writes else contextlib.nullcontext():
        sessions = _lock_sessions(requests)
        events: list[dict] = []
        #: per request: the index of its event (or None), and for accounting
        #: the session and the counters it reported.
        plan: list[tuple[int | None, _Session | None, tuple[int, int] | None]] = []
        for request in requests:
            plan.append(_event_for(request, sessions, events, now))
        results = []
        for start in range(0, len(events), _CHUNK):
            results.extend(network.apply_events(events=events[start : start + _CHUNK]))
        answers = [
            _answer(request, step, results, events)
            for request, step in zip(requests, plan, strict=True)
        ]
        _auth_duplicates(requests, plan, results, answers)
        _store_sessions(sessions, now)
    return answers


def _lock_sessions(requests: list[Request]) -> dict[tuple[int, str], _Session]:
    """Lock the batch's sessions (and, for Accounting-On/Off, every open
    session of that NAS) and read their state.

    A session that exists is locked by its row (FOR UPDATE waits for, then
    reads, the latest version). One that does not exist yet has no row to
    lock: an advisory lock per such session, taken in key order, serialises
    the batches that would create it, and the row is read again after it (the
    two statements in one round trip: the server runs the second once the
    first holds its locks)."""
    keys = {(r.client_id, r.session_id) for r in requests if r.session_id}
    resets = sorted({r.client_id for r in requests if r.kind == "acct" and _is_reset(r)})
    sessions: dict[tuple[int, str], _Session] = {}
    if not keys and not resets:
        return sessions
    with connection.cursor() as cursor:
        _select_sessions(cursor, keys, resets)
        _read_sessions(cursor, sessions)
    missing = keys - sessions.keys()
    if missing:
        with connection.cursor() as locks, connection.cursor() as cursor:
            with writes.pipelined():
                locks.execute(
                    "SELECT pg_advisory_xact_lock(%(space)s, k) FROM unnest(%(keys)s::int[]) AS k",
                    {"space": _LOCK_SPACE, "keys": sorted({_lock_key(*key) for key in missing})},
                )
                _select_sessions(cursor, missing, [])
            _read_sessions(cursor, sessions)
    return sessions


def _select_sessions(cursor, keys: set, resets: list[int]) -> None:
    """The rows are chosen by id from two index scans (the unique key, the
    open sessions of a NAS): an OR of the two conditions in the WHERE made
    PostgreSQL read the whole table, for every batch."""
    cursor.execute(
        f"""
        SELECT s.client_id, s.session_id, s.imsi, s.user_name, host(s.framed_ip),
               s.input_octets, s.output_octets, s.account_id, s.endpoint_id,
               s.ended_at IS NOT NULL
          FROM {_SESSIONS} s
         WHERE s.id IN (
                   SELECT r.id
                     FROM json_to_recordset(%(keys)s::json)
                          AS k(client_id bigint, session_id text)
                     JOIN {_SESSIONS} r
                       ON r.client_id = k.client_id AND r.session_id = k.session_id
                   UNION ALL
                   SELECT r.id FROM {_SESSIONS} r
                    WHERE r.client_id = ANY(%(resets)s::bigint[]) AND r.ended_at IS NULL)
         ORDER BY s.client_id, s.session_id
           FOR UPDATE OF s
        """,
        {
            "keys": orjson.dumps(
                [{"client_id": c, "session_id": s} for c, s in sorted(keys)]
            ).decode(),
            "resets": resets,
        },
    )


def _read_sessions(cursor, sessions: dict) -> None:
    for row in cursor.fetchall():
        session = _Session(*row[:9], ended=row[9])
        sessions[(session.client_id, session.session_id)] = session


def _is_reset(request: Request) -> bool:
    return request.status in (packets.ACCOUNTING_ON, packets.ACCOUNTING_OFF)


def _event(event_id: str, type_: str, request_or_session, now, **extra) -> dict:
    event = {
        "id": event_id,
        "type": type_,
        "imsi": request_or_session.imsi,
        "at": now.isoformat(),
        **extra,
    }
    imei = getattr(request_or_session, "imei", "")
    if imei:
        event["imei"] = imei
    apn = getattr(request_or_session, "apn", "")
    if apn:
        event["apn"] = apn
    # The serving network, for the contract that takes it (ignored otherwise).
    plmn = getattr(request_or_session, "plmn", "")
    if plmn:
        event["plmn"] = plmn
    rat = getattr(request_or_session, "rat", "")
    if rat:
        event["rat"] = rat
    return event


def _event_for(request: Request, sessions: dict, events: list[dict], now):
    client = request.client_id
    if request.kind == "auth":
        events.append(
            _event(
                f"radius-{client}-auth-{request.authenticator.hex()}", SESSION_START, request, now
            )
        )
        session = None
        if request.session_id:
            session = _session(sessions, request)
            session.changed = True
        return len(events) - 1, session, None

    if _is_reset(request):
        # The NAS restarted: every session it had open is over.
        for (owner, _), session in sorted(sessions.items()):
            if owner == client and not session.ended:
                session.ended = session.changed = True
                events.append(
                    _event(
                        f"radius-{client}-nasreset-{session_hash(session.session_id)}",
                        SESSION_END,
                        session,
                        now,
                    )
                )
        return None, None, None

    if not request.session_id or request.status not in (
        packets.START,
        packets.INTERIM_UPDATE,
        packets.STOP,
    ):
        return None, None, None
    session = _session(sessions, request)
    if not request.imsi:
        request.imsi = session.imsi
    tag = session_hash(request.session_id)
    if request.status == packets.START:
        events.append(_event(f"radius-{client}-start-{tag}", SESSION_START, request, now))
        return len(events) - 1, session, None
    counters = (request.input_octets, request.output_octets)
    # Growth since the last report applied; a report older than that (sent
    # again late) grows nothing.
    up = max(0, request.input_octets - session.input_octets)
    down = max(0, request.output_octets - session.output_octets)
    if request.status == packets.INTERIM_UPDATE:
        event_id = f"radius-{client}-interim-{tag}-{counters[0]}-{counters[1]}"
        type_ = SESSION_UPDATE
    else:
        event_id = f"radius-{client}-stop-{tag}"
        type_ = SESSION_END
    events.append(_event(event_id, type_, request, now, bytes_up=up, bytes_down=down))
    return len(events) - 1, session, counters


def _session(sessions: dict, request: Request) -> _Session:
    key = (request.client_id, request.session_id)
    session = sessions.get(key)
    if session is None:
        session = sessions[key] = _Session(
            client_id=request.client_id, session_id=request.session_id, imsi=request.imsi
        )
        session.changed = True
    if request.imsi and not session.imsi:
        session.imsi = request.imsi
    if request.user_name:
        session.user_name = request.user_name
    if request.framed_ip:
        session.framed_ip = request.framed_ip
    return session


def _answer(request: Request, step, results: list, events: list[dict]) -> Answer:
    index, session, counters = step
    if index is None:
        return Answer(accept=True)
    result = results[index]
    if session is not None and result.status == ACCEPTED:
        if request.kind == "auth" and result.ip:
            session.framed_ip = result.ip
        if counters is not None:
            session.input_octets = max(session.input_octets, counters[0])
            session.output_octets = max(session.output_octets, counters[1])
            session.changed = True
    if session is not None and request.kind == "acct" and request.status == packets.STOP:
        session.ended = session.changed = True
    if request.kind == "acct":
        return Answer(accept=True)
    if result.status == ACCEPTED:
        return Answer(accept=True, ip=result.ip)
    return Answer(accept=False, reason=result.reason or result.status)


def _auth_duplicates(requests, plan, results, answers: list[Answer]) -> None:
    """An Access-Request sent again after its answer was lost (or after a
    restart) gets the answer that was decided then, from the stored event."""
    wanted = {}
    for position, (request, (index, _, _)) in enumerate(zip(requests, plan, strict=True)):
        if request.kind == "auth" and index is not None and results[index].status == DUPLICATE:
            wanted[results[index].id] = position
    if not wanted:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT event_id, status, reason, host(ip) FROM {_EVENTS}"
            " WHERE event_id = ANY(%(ids)s::text[])",
            {"ids": list(wanted)},
        )
        for event_id, status, reason, ip in cursor.fetchall():
            answers[wanted[event_id]] = (
                Answer(accept=True, ip=ip)
                if status == ACCEPTED
                else Answer(accept=False, reason=reason or status)
            )


def _store_sessions(sessions: dict[tuple[int, str], _Session], now) -> None:
    """One upsert of every session the batch changed, with the endpoint its
    IMSI names now."""
    rows = [
        {
            "client_id": s.client_id,
            "session_id": s.session_id,
            "imsi": s.imsi,
            "user_name": s.user_name,
            "framed_ip": s.framed_ip,
            "input_octets": s.input_octets,
            "output_octets": s.output_octets,
            "ended": s.ended,
        }
        for _, s in sorted(sessions.items())
        if s.changed and s.imsi
    ]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_SESSIONS}
                   (client_id, session_id, account_id, endpoint_id, imsi, user_name, framed_ip,
                    input_octets, output_octets, started_at, updated_at, ended_at)
            SELECT v.client_id, v.session_id, e.account_id, e.id, v.imsi, v.user_name,
                   v.framed_ip, v.input_octets, v.output_octets, %(now)s, %(now)s,
                   CASE WHEN v.ended THEN %(now)s::timestamptz END
              FROM json_to_recordset(%(rows)s::json)
                   AS v(client_id bigint, session_id text, imsi text, user_name text,
                        framed_ip inet, input_octets bigint, output_octets bigint, ended boolean)
              LEFT JOIN {_IMSIS} i ON i.imsi = v.imsi
              LEFT JOIN {_ENDPOINTS} e ON e.id = i.endpoint_id
            ON CONFLICT (client_id, session_id) DO UPDATE
               SET account_id = EXCLUDED.account_id,
                   endpoint_id = EXCLUDED.endpoint_id,
                   user_name = EXCLUDED.user_name,
                   framed_ip = EXCLUDED.framed_ip,
                   input_octets = GREATEST({_SESSIONS}.input_octets, EXCLUDED.input_octets),
                   output_octets = GREATEST({_SESSIONS}.output_octets, EXCLUDED.output_octets),
                   updated_at = EXCLUDED.updated_at,
                   ended_at = COALESCE({_SESSIONS}.ended_at, EXCLUDED.ended_at)
            """,
            {"now": now, "rows": orjson.dumps(rows).decode()},
        )
