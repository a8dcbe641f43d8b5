"""The RADIUS server (``manage.py radius``; docs/radius.md): authentication and
accounting over UDP, answered from batches decided by the network batch code.

One asyncio loop reads both sockets. A datagram from an address no client
covers is dropped and counted (RFC 2865 says to drop it silently); one that
fails its authenticator checks likewise. The others are gathered into a batch
until ``RADIUS_BATCH_SIZE`` requests are waiting or ``RADIUS_BATCH_WAIT_MS``
have passed since the first, whichever comes first, and the batch is decided
in a thread (the ORM is synchronous) by ``network.radius.batch``: one
transaction per batch. Authentication and accounting gather and are decided
apart, each with ``RADIUS_WORKERS`` batches in flight: a burst of Interim-Updates
never holds back an Access-Request, and while batches commit the next ones
gather. Answers are sent only after it commits, so an
Accounting-Response always means "stored"; if the database fails, nothing is
answered and the NAS retransmits.

A retransmission (same source, identifier and Request Authenticator) that
arrives while its request is being decided is dropped; one that arrives after
the answer gets the same answer again from a short cache (RFC 5080 section
2.2.2). After a restart the cache is empty, and the stored event ids make the
repeat a duplicate that changes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from pyrad import packet as rp

from network.radius import batch as radius_batch
from network.radius import clients as radius_clients
from network.radius import packets
from network.radius.packets import Refused, Request
from portal import metrics

log = logging.getLogger("network.radius")

#: How long an answer is kept for retransmissions of its request.
REPLY_CACHE_SECONDS = 30.0
STATS_SECONDS = 60.0


@dataclass
class _Pending:
    request: Request
    packet: rp.Packet
    transport: asyncio.DatagramTransport
    address: tuple
    key: tuple


#: The port a packet came in on, as /metrics names the request's kind.
_KINDS = {"auth": "access", "acct": "accounting"}


@dataclass
class Counters:
    """What the server did, by result; logged every minute and at exit, and
    counted for /metrics (``portal_radius_requests_total`` by kind and result)."""

    counts: collections.Counter = field(default_factory=collections.Counter)

    def add(self, name: str, n: int = 1, *, kind: str) -> None:
        self.counts[name] += n
        metrics.radius_requests.labels(kind=_KINDS.get(kind, kind), result=name).inc(n)

    def line(self) -> str:
        return " ".join(f"{name}={count}" for name, count in sorted(self.counts.items()))


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: RadiusServer, kind: str):
        self.server = server
        self.kind = kind
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, address):
        self.server.received(self.kind, self.transport, data, address)


class RadiusServer:
    def __init__(
        self,
        *,
        bind: str,
        auth_port: int,
        acct_port: int,
        batch_size: int | None = None,
        batch_wait_ms: float | None = None,
        interim_interval: int | None = None,
    ):
        self.bind = bind
        self.auth_port = auth_port
        self.acct_port = acct_port
        self.batch_size = batch_size or settings.RADIUS_BATCH_SIZE
        self.batch_wait = (
            batch_wait_ms if batch_wait_ms is not None else settings.RADIUS_BATCH_WAIT_MS
        ) / 1000
        self.interim = (
            interim_interval if interim_interval is not None else settings.RADIUS_INTERIM_INTERVAL
        )
        self.counters = Counters()
        self.clients = radius_clients.ClientTable([])
        #: By kind ("auth", "acct"): what waits, its timer, the batches in flight.
        self._pending: dict[str, list[_Pending]] = {"auth": [], "acct": []}
        self._timer: dict[str, asyncio.TimerHandle | None] = {"auth": None, "acct": None}
        self._busy = {"auth": 0, "acct": 0}
        self._in_flight: set[tuple] = set()
        self._replies: dict[tuple, tuple[float, bytes]] = {}
        #: Batches of each kind decided at the same time (a thread and a
        #: connection each).
        self.workers = settings.RADIUS_WORKERS
        self._executor = ThreadPoolExecutor(
            max_workers=2 * self.workers + 1, thread_name_prefix="radius-db"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self.bound: dict[str, int] = {}

    # --- running -------------------------------------------------------------------

    async def run(self, *, ready=None) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self.clients.replace(await loop.run_in_executor(self._executor, _load_clients))
        auth, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self, "auth"), local_addr=(self.bind, self.auth_port)
        )
        acct, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self, "acct"), local_addr=(self.bind, self.acct_port)
        )
        self.bound = {
            "auth": auth.get_extra_info("sockname")[1],
            "acct": acct.get_extra_info("sockname")[1],
        }
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if ready:
            ready(self)
        reload_task = asyncio.create_task(self._reload_clients())
        stats_task = asyncio.create_task(self._log_stats())
        try:
            await stop.wait()
        finally:
            reload_task.cancel()
            stats_task.cancel()
            auth.close()
            acct.close()
            # Let the batches being decided finish and be answered.
            while any(self._busy.values()):
                await asyncio.sleep(0.01)
            self._executor.shutdown(wait=True)
            log.info("RADIUS server stopped: %s", self.counters.line() or "no packets")

    async def _reload_clients(self) -> None:
        while True:
            await asyncio.sleep(radius_clients.RELOAD_SECONDS)
            try:
                clients = await self._loop.run_in_executor(self._executor, _load_clients)
            except (OperationalError, InterfaceError) as exc:
                log.warning("RADIUS clients not reloaded: %s", exc.__class__.__name__)
                continue
            self.clients.replace(clients)
            now = time.monotonic()
            self._replies = {k: v for k, v in self._replies.items() if v[0] > now}

    async def _log_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_SECONDS)
            if self.counters.counts:
                log.info("RADIUS: %s", self.counters.line())

    # --- receiving ------------------------------------------------------------------

    def received(self, kind: str, transport, data: bytes, address) -> None:
        client = self.clients.match(address[0])
        if client is None:
            self.counters.add("unknown_client", kind=kind)
            return
        head = packets.header(data)
        if head is None:
            self.counters.add("malformed", kind=kind)
            return
        code, ident, authenticator = head
        expected = rp.AccessRequest if kind == "auth" else rp.AccountingRequest
        if code != expected:
            self.counters.add("unsupported_code", kind=kind)
            return
        key = (kind, address, ident, authenticator)
        cached = self._replies.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self.counters.add("retransmission_answered", kind=kind)
            transport.sendto(cached[1], address)
            return
        if key in self._in_flight:
            self.counters.add("retransmission_in_flight", kind=kind)
            return
        try:
            if kind == "auth":
                packet = packets.decode_access_request(
                    data, client.secret, require_ma=client.require_message_authenticator
                )
                request = packets.access_request(packet, client.id)
            else:
                packet = packets.decode_accounting_request(data, client.secret)
                request = packets.accounting_request(packet, client.id)
        except Refused as refused:
            self.counters.add(refused.reason, kind=kind)
            return
        self._in_flight.add(key)
        self._pending[kind].append(_Pending(request, packet, transport, address, key))
        self._schedule(kind)

    # --- batching -------------------------------------------------------------------

    def _schedule(self, kind: str) -> None:
        if self._busy[kind] >= self.workers:
            return  # a worker that finishes takes what has gathered meanwhile
        if len(self._pending[kind]) >= self.batch_size:
            self._flush(kind)
        elif self._timer[kind] is None:
            self._timer[kind] = self._loop.call_later(self.batch_wait, self._flush, kind)

    def _flush(self, kind: str) -> None:
        timer = self._timer[kind]
        if timer is not None:
            timer.cancel()
            self._timer[kind] = None
        pending = self._pending[kind]
        if not pending or self._busy[kind] >= self.workers:
            return
        taken = pending[: self.batch_size * 2]
        self._pending[kind] = pending[len(taken) :]
        self._busy[kind] += 1
        future = self._loop.run_in_executor(
            self._executor, _decide, [item.request for item in taken]
        )
        future.add_done_callback(lambda done: self._answer(kind, taken, done))
        if self._pending[kind]:
            self._schedule(kind)

    def _answer(self, kind: str, taken: list[_Pending], done: asyncio.Future) -> None:
        self._busy[kind] -= 1
        answers = done.result() if not done.exception() else None
        if done.exception():
            log.error("RADIUS batch failed", exc_info=done.exception())
        expires = time.monotonic() + REPLY_CACHE_SECONDS
        for position, item in enumerate(taken):
            self._in_flight.discard(item.key)
            if answers is None:
                self.counters.add("unanswered_database", kind=item.request.kind)
                continue
            answer = answers[position]
            if item.request.kind == "auth":
                if answer.accept:
                    reply = packets.access_accept(item.packet, ip=answer.ip, interim=self.interim)
                    self.counters.add("access_accept", kind="auth")
                else:
                    reply = packets.access_reject(item.packet, reason=answer.reason)
                    self.counters.add("access_reject", kind="auth")
            else:
                reply = packets.accounting_response(item.packet)
                self.counters.add("accounting_response", kind="acct")
            self._replies[item.key] = (expires, reply)
            item.transport.sendto(reply, item.address)
        pending = self._pending[kind]
        if pending and (len(pending) >= self.batch_size or self._timer[kind] is None):
            self._flush(kind)


def _load_clients() -> list[radius_clients.Client]:
    close_old_connections()
    return radius_clients.load()


def _decide(requests: list[Request]) -> list[radius_batch.Answer] | None:
    """Decide a batch in a worker thread; None when the database is not there
    (nothing is answered: the NASes retransmit)."""
    try:
        return radius_batch.decide(requests)
    except (OperationalError, InterfaceError) as exc:
        log.warning(
            "RADIUS batch of %d not answered: database unavailable (%s)", len(requests), exc
        )
        connection.close()
        return None
    except DatabaseError:
        log.exception("RADIUS batch of %d not answered", len(requests))
        connection.close()
        return None
