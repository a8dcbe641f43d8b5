"""Disconnect-Requests (RFC 5176) to the NAS holding a session, when the
lifecycle ends it (docs/radius.md "Disconnects").

Suspend, terminate and a move to another group write a ``SessionTeardown`` per
IMSI whose session must end (inventory/lifecycle.py); the JSON disconnects feed
serves them to cores that poll. For RADIUS the worker (``network.tasks``) runs
``run`` every few seconds:

1. ``collect``: one INSERT … SELECT turns the teardowns written since the last
   run (a cursor row) into a ``RadiusDisconnect`` per open RADIUS session of
   those endpoints;
2. ``send``: every pending one goes to its NAS (address, ``coa_port``, secret)
   with ``User-Name``, ``Acct-Session-Id``, ``Framed-IP-Address`` and a
   Message-Authenticator, each NAS on its own sockets and at the same time as
   the others (512 requests in flight per NAS); a request is sent again with a doubling timeout
   (``RADIUS_DISCONNECT_TIMEOUT``, ``RADIUS_DISCONNECT_ATTEMPTS`` times) until a
   Disconnect-ACK, or a NAK whose Error-Cause is 503 (Session-Context-Not-Found:
   the session is gone anyway). A NAS that answers nothing at all while one
   request goes through all its attempts is silent: its remaining requests of
   the run are given up at once, so one dead NAS costs one retry cycle, not one
   per session.
3. the outcomes are written as they come, 5,000 at a time per NAS (one
   UPDATE, one History INSERT), in a thread beside the sending, so a slow NAS
   never holds back another's History.

A run holds an advisory lock, so two workers never send the same request; a
worker killed mid-run leaves its requests pending and the next run sends them
again (a NAS answers a repeated Disconnect-Request for an ended session with
NAK 503, which counts as done).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from pyrad import packet as rp

from inventory import history
from inventory.models import Endpoint, HistoryAction, SessionTeardown
from network.models import (
    DisconnectState,
    RadiusClient,
    RadiusCursor,
    RadiusDisconnect,
    RadiusSession,
)
from network.radius.loops import run_to_completion
from network.radius.packets import DICTIONARY
from portal import metrics
from portal.models import ActorKind

log = logging.getLogger("network.radius.disconnect")

_quote = connection.ops.quote_name
_DISCONNECTS = _quote(RadiusDisconnect._meta.db_table)
_SESSIONS = _quote(RadiusSession._meta.db_table)
_CLIENTS = _quote(RadiusClient._meta.db_table)
_TEARDOWNS = _quote(SessionTeardown._meta.db_table)
_CURSORS = _quote(RadiusCursor._meta.db_table)
_HISTORY = _quote(history.History._meta.db_table)
_ENDPOINTS = _quote(Endpoint._meta.db_table)

CURSOR = "teardowns"
#: The advisory lock a run holds ("RADD").
_RUN_LOCK = (0x52414444, 1)
#: Pending requests loaded and sent per round.
CHUNK = 20_000
#: Requests in flight per socket (the identifier is one octet) and sockets per NAS.
IDS = 256
SOCKETS = 2
#: Outcomes written together (one UPDATE, one History INSERT).
RECORD_EVERY = 5_000
ERROR_CAUSE = 101
SESSION_CONTEXT_NOT_FOUND = 503
ACTION = HistoryAction.RADIUS_DISCONNECT.value
ACTOR_LABEL = "radius"


@dataclass
class Pending:
    id: int
    account_id: int
    endpoint_id: int
    reason: str
    client_id: int
    client_name: str
    host: str
    port: int
    secret: bytes
    session_id: str
    user_name: str
    imsi: str
    framed_ip: str | None


@dataclass
class Outcome:
    pending: Pending
    state: str
    attempts: int
    detail: str


def run(*, deadline_seconds: float = 50.0) -> dict[str, int]:
    """Collect new teardowns and send what is pending; counts by outcome, and
    the milliseconds collecting, sending (all of it) and recording took.
    Returns at once (empty) if another run holds the lock."""
    close_old_connections()
    totals: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", _RUN_LOCK)
        if not cursor.fetchone()[0]:
            return totals
    try:
        began = time.monotonic()
        totals["collected"] = collect()
        started = time.monotonic()
        totals["collect_ms"] = round((started - began) * 1000)
        last_id = 0
        while time.monotonic() - started < deadline_seconds:
            batch = load_pending(after=last_id, limit=CHUNK)
            if not batch:
                break
            last_id = batch[-1].id
            for state, count in send(batch).items():
                totals[state] = totals.get(state, 0) + count
        totals["send_ms"] = round((time.monotonic() - started) * 1000)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", _RUN_LOCK)
    return totals


def collect() -> int:
    """Disconnects for the open sessions of the teardowns written since the
    last run; the cursor moves past them in the same transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_CURSORS} (name, position) VALUES (%(name)s, 0) "
            "ON CONFLICT (name) DO NOTHING",
            {"name": CURSOR},
        )
        cursor.execute(
            f"SELECT position FROM {_CURSORS} WHERE name = %(name)s FOR UPDATE", {"name": CURSOR}
        )
        position = cursor.fetchone()[0]
        cursor.execute(f"SELECT max(id) FROM {_TEARDOWNS} WHERE id > %s", [position])
        last = cursor.fetchone()[0]
        if last is None:
            return 0
        cursor.execute(
            f"""
            INSERT INTO {_DISCONNECTS}
                   (teardown_id, session_id, client_id, account_id, endpoint_id, reason, state,
                    attempts, detail, created_at)
            SELECT DISTINCT ON (s.id)
                   t.id, s.id, s.client_id, t.account_id, t.endpoint_id, t.reason, %(pending)s,
                   0, '', %(now)s
              FROM {_TEARDOWNS} t
              JOIN {_SESSIONS} s ON s.endpoint_id = t.endpoint_id AND s.ended_at IS NULL
             WHERE t.id > %(position)s AND t.id <= %(last)s
             -- one request per session, however many IMSIs (teardowns) its endpoint has
             ORDER BY s.id, t.id
            ON CONFLICT (teardown_id, session_id) DO NOTHING
            """,
            {
                "pending": DisconnectState.PENDING.value,
                "now": timezone.now(),
                "position": position,
                "last": last,
            },
        )
        added = cursor.rowcount
        cursor.execute(
            f"UPDATE {_CURSORS} SET position = %(last)s WHERE name = %(name)s",
            {"last": last, "name": CURSOR},
        )
        return added


def load_pending(*, after: int, limit: int) -> list[Pending]:
    from network.radius.secrets import SecretUnreadable, decrypt

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT d.id, d.account_id, d.endpoint_id, d.reason, c.id, c.name, host(c.address),
                   c.coa_port, c.secret_encrypted, s.session_id, s.user_name, s.imsi,
                   host(s.framed_ip)
              FROM {_DISCONNECTS} d
              JOIN {_SESSIONS} s ON s.id = d.session_id
              JOIN {_CLIENTS} c ON c.id = d.client_id
             WHERE d.state = %(pending)s AND d.id > %(after)s
             ORDER BY d.id
             LIMIT %(limit)s
            """,
            {"pending": DisconnectState.PENDING.value, "after": after, "limit": limit},
        )
        rows = cursor.fetchall()
    secrets: dict[str, bytes | None] = {}
    pending = []
    for row in rows:
        encrypted = row[8]
        if encrypted not in secrets:
            try:
                secrets[encrypted] = decrypt(encrypted).encode()
            except SecretUnreadable:
                secrets[encrypted] = None
        pending.append(Pending(*row[:8], secrets[encrypted] or b"", *row[9:]))
    return pending


def send(batch: list[Pending]) -> dict[str, int]:
    """Send ``batch`` (each NAS at the same time) and record the outcomes as
    they come, ``RECORD_EVERY`` at a time per NAS, in a thread of their own
    while the sending goes on; counts by final state."""
    by_client: dict[int, list[Pending]] = {}
    for item in batch:
        by_client.setdefault(item.client_id, []).append(item)
    counts: dict[str, int] = {}
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radius-disconnect-db")

    def write(outcomes: list[Outcome]) -> None:
        began = time.monotonic()
        record(outcomes)
        counts["record_ms"] = counts.get("record_ms", 0) + round((time.monotonic() - began) * 1000)

    try:

        async def main():
            loop = asyncio.get_running_loop()
            writes: list[asyncio.Future] = []

            def flush(outcomes: list[Outcome]) -> None:
                for outcome in outcomes:
                    counts[outcome.state] = counts.get(outcome.state, 0) + 1
                    metrics.radius_requests.labels(kind="disconnect", result=outcome.state).inc()
                writes.append(loop.run_in_executor(writer, write, outcomes))

            await asyncio.gather(*(_Nas(items).send_all(flush) for items in by_client.values()))
            await asyncio.gather(*writes)

        run_to_completion(main())
    finally:
        writer.submit(_close_connection).result()
        writer.shutdown()
    return counts


class _Nas:
    """The requests for one NAS, sent over a few sockets, ``IDS`` in flight each."""

    def __init__(self, items: list[Pending]):
        self.items = items
        first = items[0]
        self.name = first.client_name
        self.address = (first.host, first.port)
        self.secret = first.secret
        self.timeout = settings.RADIUS_DISCONNECT_TIMEOUT
        self.attempts = settings.RADIUS_DISCONNECT_ATTEMPTS
        self.answered = False
        self.silent = False

    async def send_all(self, flush) -> None:
        """Send every request; ``flush(outcomes)`` takes them as they come."""
        if not self.secret:
            flush(
                [
                    Outcome(
                        item, DisconnectState.GIVEN_UP.value, 0, f"{self.name}: secret unreadable"
                    )
                    for item in self.items
                ]
            )
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Pending] = asyncio.Queue()
        for item in self.items:
            queue.put_nowait(item)
        self._outcomes: list[Outcome] = []
        self._flush = flush
        channels = [
            await _Channel.open(loop, self.address)
            for _ in range(min(SOCKETS, 1 + len(self.items) // IDS))
        ]
        try:
            await asyncio.gather(
                *(
                    self._worker(channel, ident, queue)
                    for channel in channels
                    for ident in range(IDS)
                )
            )
        finally:
            for channel in channels:
                channel.close()
        if self._outcomes:
            flush(self._outcomes)

    def _done(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        if len(self._outcomes) >= RECORD_EVERY:
            self._flush(self._outcomes)
            self._outcomes = []

    async def _worker(self, channel, ident: int, queue: asyncio.Queue) -> None:
        while not queue.empty():
            item = queue.get_nowait()
            if self.silent:
                self._done(self._given_up(item, 0))
                continue
            self._done(await self._one(channel, ident, item))

    def _given_up(self, item: Pending, attempts: int) -> Outcome:
        total = sum(self.timeout * 2**n for n in range(self.attempts))
        return Outcome(
            item,
            DisconnectState.GIVEN_UP.value,
            attempts,
            f"{self.name} did not answer ({self.attempts} attempts over {total:g} s); given up",
        )

    async def _one(self, channel, ident: int, item: Pending) -> Outcome:
        request = rp.CoAPacket(
            code=rp.DisconnectRequest, id=ident, secret=self.secret, dict=DICTIONARY
        )
        request["User-Name"] = item.user_name or item.imsi
        request["Acct-Session-Id"] = item.session_id
        if item.framed_ip:
            request["Framed-IP-Address"] = item.framed_ip
        request.add_message_authenticator()
        raw = request.RequestPacket()
        last_nak = ""
        for attempt in range(1, self.attempts + 1):
            data = await channel.exchange(ident, raw, self.timeout * 2 ** (attempt - 1))
            if self.silent and data is None:
                return self._given_up(item, attempt)
            if data is None:
                continue
            try:
                reply = rp.CoAPacket(packet=data, secret=self.secret, dict=DICTIONARY)
            except rp.PacketError:
                continue
            if not request.VerifyReply(reply, data):
                continue  # not from the NAS (or not with our secret): wait on
            self.answered = True
            if reply.code == rp.DisconnectACK:
                return Outcome(
                    item, DisconnectState.ACKED.value, attempt, f"Disconnect-ACK from {self.name}"
                )
            if reply.code == rp.DisconnectNAK:
                causes = reply.get(ERROR_CAUSE) or []
                cause = int.from_bytes(causes[0], "big") if causes else 0
                if cause == SESSION_CONTEXT_NOT_FOUND:
                    return Outcome(
                        item,
                        DisconnectState.GONE.value,
                        attempt,
                        f"Disconnect-NAK from {self.name}: session not found (503)",
                    )
                last_nak = f"Disconnect-NAK from {self.name}, Error-Cause {cause or 'none'}"
        if last_nak:
            return Outcome(item, DisconnectState.REFUSED.value, self.attempts, last_nak)
        if not self.answered:
            self.silent = True
        return self._given_up(item, self.attempts)


class _Channel(asyncio.DatagramProtocol):
    """One UDP socket to a NAS; replies matched to requests by identifier."""

    def __init__(self):
        self.waiting: dict[int, asyncio.Future] = {}
        self.transport = None

    @classmethod
    async def open(cls, loop, address) -> _Channel:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        _, channel = await loop.create_datagram_endpoint(cls, remote_addr=address, family=family)
        return channel

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, address):
        if len(data) >= 20:
            future = self.waiting.get(data[1])
            if future is not None and not future.done():
                future.set_result(data)

    def error_received(self, exc):
        pass  # ICMP port unreachable: the NAS is not listening; the timeout decides

    async def exchange(self, ident: int, raw: bytes, timeout: float) -> bytes | None:
        """Send ``raw`` and wait for the answer with its identifier, or None.
        A timer on the future, not ``asyncio.wait_for``: that makes a task per
        request, which showed at 100,000 requests."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting[ident] = future
        timer = loop.call_later(timeout, _expire, future)
        self.transport.sendto(raw)
        try:
            return await future
        finally:
            timer.cancel()
            self.waiting.pop(ident, None)

    def close(self):
        if self.transport is not None:
            self.transport.close()


def record(outcomes: list[Outcome]) -> None:
    """One NAS's outcomes: the rows' states, a History row each, and the
    sessions the NAS no longer knows marked ended."""
    if not outcomes:
        return
    now = timezone.now()
    batch = uuid.uuid4()
    rows = [
        {
            "id": o.pending.id,
            "account_id": o.pending.account_id,
            "endpoint_id": o.pending.endpoint_id,
            "state": o.state,
            "attempts": o.attempts,
            "detail": o.detail[:200],
            "changes": {
                "nas": o.pending.client_name,
                "session": o.pending.session_id,
                "ip": o.pending.framed_ip,
                "teardown": o.pending.reason,
                "result": o.state,
            },
        }
        for o in outcomes
    ]
    close_old_connections()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_DISCONNECTS} d
               SET state = v.state, attempts = v.attempts, detail = v.detail, done_at = %(now)s
              FROM json_to_recordset(%(rows)s::json)
                   AS v(id bigint, state text, attempts int, detail text)
             WHERE d.id = v.id AND d.state = %(pending)s
            """,
            {
                "now": now,
                "rows": orjson.dumps(rows).decode(),
                "pending": DisconnectState.PENDING.value,
            },
        )
        cursor.execute(
            f"""
            INSERT INTO {_HISTORY} ({history.COLUMN_LIST})
            SELECT v.account_id, v.endpoint_id, %(now)s, %(kind)s, NULL, %(label)s, %(action)s,
                   '', '', v.changes, v.detail, %(batch)s
              FROM json_to_recordset(%(rows)s::json)
                   AS v(account_id bigint, endpoint_id bigint, detail text, changes jsonb)
              -- an endpoint purged meanwhile has no History to add to
             WHERE EXISTS (SELECT 1 FROM {_ENDPOINTS} e WHERE e.id = v.endpoint_id)
            """,
            {
                "now": now,
                "kind": ActorKind.SYSTEM,
                "label": ACTOR_LABEL,
                "action": ACTION,
                "batch": batch,
                "rows": orjson.dumps(rows).decode(),
            },
        )
        cursor.execute(
            f"""
            UPDATE {_SESSIONS} s SET ended_at = %(now)s
              FROM {_DISCONNECTS} d
             WHERE d.id = ANY(%(ids)s::bigint[]) AND s.id = d.session_id AND s.ended_at IS NULL
            """,
            {"now": now, "ids": [o.pending.id for o in outcomes if o.state == "gone"]},
        )


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _close_connection() -> None:
    """Close the calling thread's connection (``connection.close`` evaluated
    in another thread would be that thread's)."""
    connection.close()
