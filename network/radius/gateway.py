"""A stand-in for a PGW/GGSN speaking RADIUS to the portal: what
``simulate_network --radius`` and the benchmark (bench/radius.py) drive.

Each device opens a data session as a gateway does (Access-Request with its
IMSI, IMEISV, APN, serving PLMN and RAT; on Access-Accept an Accounting Start
with the address it was given), reports its cumulative counters in
Interim-Updates (gigawords included once past 4 GiB) and ends with a Stop. A
rejected device tries again later. ``senders`` coroutines each hold one
request in flight at a time, like ``radclient -p``, on their own sockets;
devices are split between them, so one device's packets are never reordered.

``mode`` narrows the traffic for the benchmark: ``auth`` sends only
Access-Requests, ``acct`` only Interim-Updates of sessions that it opened
beforehand (not timed).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from pyrad import packet as rp

from network.radius.packets import DICTIONARY, GIGAWORD

#: What a gateway waits for an answer, and how often it sends again.
TIMEOUT = 2.0
RETRIES = 2
#: 3GPP-RAT-Type values sent, with their weights (EUTRAN mostly).
RATS = [(6, 80), (1, 8), (2, 4), (8, 4), (9, 4)]
PLMNS = ["23415", "26201", "20801", "310260"]
MAX_REPORT_BYTES = 5_000_000


@dataclass
class Device:
    imsi: str
    imei: str
    apn: str
    session_id: str = ""
    framed_ip: str = ""
    input_octets: int = 0
    output_octets: int = 0
    sessions: int = 0


@dataclass
class Totals:
    """What the gateway saw, by request kind."""

    answers: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"auth": [], "acct": []})
    timeouts: int = 0
    sent: Counter = field(default_factory=Counter)


class _Socket(asyncio.DatagramProtocol):
    def __init__(self):
        self.transport = None
        self.future: asyncio.Future | None = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, address):
        if self.future is not None and not self.future.done():
            self.future.set_result(data)

    def error_received(self, exc):
        pass

    async def exchange(self, packet: rp.Packet, raw: bytes) -> rp.Packet | None:
        for _ in range(1 + RETRIES):
            self.future = asyncio.get_running_loop().create_future()
            self.transport.sendto(raw)
            try:
                data = await asyncio.wait_for(self.future, TIMEOUT)
            except TimeoutError:
                continue
            reply = packet.CreateReply(packet=data)
            if packet.VerifyReply(reply, data):
                return reply
        return None


class Gateway:
    def __init__(
        self,
        *,
        host: str,
        auth_port: int,
        acct_port: int,
        secret: str,
        devices: list[Device],
        senders: int = 50,
        seed: int | None = None,
        mode: str = "mixed",
    ):
        self.host = host
        self.auth_port = auth_port
        self.acct_port = acct_port
        self.secret = secret.encode()
        self.devices = devices
        self.senders = max(1, min(senders, len(devices)))
        self.rng = random.Random(seed)
        self.mode = mode
        self.totals = Totals()
        self._sequence = 0

    async def run(self, *, duration: float, rate: float = 0.0, report=None) -> Totals:
        """Send for ``duration`` seconds (``rate`` requests/s in all, 0 = as fast
        as answered); ``report(totals, elapsed)`` is called every second."""
        shares = [self.devices[n :: self.senders] for n in range(self.senders)]
        sockets = [await self._open_sockets() for _ in shares]
        started = time.monotonic()
        stop_at = started + duration
        interval = self.senders / rate if rate else 0.0
        reporter = asyncio.create_task(self._report(report, started)) if report else None
        try:
            await asyncio.gather(
                *(
                    self._sender(share, auth, acct, stop_at, interval)
                    for share, (auth, acct) in zip(shares, sockets, strict=True)
                )
            )
        finally:
            if reporter:
                reporter.cancel()
            for auth, acct in sockets:
                auth.transport.close()
                acct.transport.close()
        return self.totals

    async def open_sessions(self) -> None:
        """Open a session for every device (Access-Request and Start), untimed:
        what ``acct`` mode reports on."""
        mode, self.mode = self.mode, "mixed"
        try:
            shares = [self.devices[n :: self.senders] for n in range(self.senders)]

            async def opener(share):
                auth, acct = await self._open_sockets()
                try:
                    for device in share:
                        await self._start(device, auth, acct)
                finally:
                    auth.transport.close()
                    acct.transport.close()

            await asyncio.gather(*(opener(share) for share in shares))
        finally:
            self.mode = mode
            self.totals = Totals()

    async def _open_sockets(self) -> tuple[_Socket, _Socket]:
        """One sender's sockets: to the authentication port and to the
        accounting port."""
        loop = asyncio.get_running_loop()
        _, auth = await loop.create_datagram_endpoint(
            _Socket, remote_addr=(self.host, self.auth_port)
        )
        _, acct = await loop.create_datagram_endpoint(
            _Socket, remote_addr=(self.host, self.acct_port)
        )
        return auth, acct

    async def _report(self, report, started: float) -> None:
        while True:
            await asyncio.sleep(1)
            report(self.totals, time.monotonic() - started)

    async def _sender(self, devices, auth, acct, stop_at: float, interval: float) -> None:
        index = 0
        next_at = time.monotonic()
        while time.monotonic() < stop_at:
            device = devices[index % len(devices)]
            index += 1
            if self.mode == "auth":
                await self._access(device, auth)
            elif self.mode == "acct":
                await self._interim(device, acct)
            elif not device.session_id:
                await self._start(device, auth, acct)
            elif self.rng.random() < 0.15:
                await self._stop(device, acct)
            else:
                await self._interim(device, acct)
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)

    async def _send(self, kind: str, sock: _Socket, packet: rp.Packet) -> rp.Packet | None:
        raw = packet.RequestPacket()
        self.totals.sent[kind] += 1
        began = time.perf_counter()
        reply = await sock.exchange(packet, raw)
        if reply is None:
            self.totals.timeouts += 1
            return None
        self.totals.latencies[kind].append(time.perf_counter() - began)
        return reply

    async def _access(self, device: Device, sock: _Socket) -> rp.Packet | None:
        packet = rp.AuthPacket(secret=self.secret, dict=DICTIONARY)
        packet["User-Name"] = device.imsi
        packet["3GPP-IMSI"] = device.imsi
        packet["3GPP-IMEISV"] = device.imei[:14] + "01"
        if device.apn:
            packet["Called-Station-Id"] = device.apn
        packet["3GPP-SGSN-MCC-MNC"] = self.rng.choice(PLMNS)
        packet["3GPP-RAT-Type"] = self.rng.choices(
            [rat for rat, _ in RATS], [weight for _, weight in RATS]
        )[0]
        packet.add_message_authenticator()
        reply = await self._send("auth", sock, packet)
        if reply is not None:
            if reply.code == rp.AccessAccept:
                self.totals.answers["access_accept"] += 1
            else:
                reason = (reply.get("Reply-Message") or ["?"])[0]
                self.totals.answers[f"access_reject:{reason}"] += 1
        return reply

    async def _start(self, device: Device, auth: _Socket, acct: _Socket) -> None:
        reply = await self._access(device, auth)
        if reply is None or reply.code != rp.AccessAccept:
            return
        self._sequence += 1
        device.sessions += 1
        device.session_id = f"{device.imsi[-8:]}-{device.sessions}-{self._sequence:x}"
        device.framed_ip = (reply.get("Framed-IP-Address") or [""])[0]
        device.input_octets = device.output_octets = 0
        await self._accounting(device, acct, "Start")

    async def _interim(self, device: Device, acct: _Socket) -> None:
        if not device.session_id:
            return
        down = self.rng.randrange(MAX_REPORT_BYTES)
        device.output_octets += down
        device.input_octets += down // self.rng.randint(3, 12)
        await self._accounting(device, acct, "Interim-Update")

    async def _stop(self, device: Device, acct: _Socket) -> None:
        await self._accounting(device, acct, "Stop")
        device.session_id = ""

    async def _accounting(self, device: Device, sock: _Socket, status: str) -> None:
        packet = rp.AcctPacket(secret=self.secret, dict=DICTIONARY)
        packet["User-Name"] = device.imsi
        packet["3GPP-IMSI"] = device.imsi
        packet["Acct-Status-Type"] = status
        packet["Acct-Session-Id"] = device.session_id
        if device.framed_ip:
            packet["Framed-IP-Address"] = device.framed_ip
        if status != "Start":
            packet["Acct-Input-Octets"] = device.input_octets % GIGAWORD
            packet["Acct-Input-Gigawords"] = device.input_octets // GIGAWORD
            packet["Acct-Output-Octets"] = device.output_octets % GIGAWORD
            packet["Acct-Output-Gigawords"] = device.output_octets // GIGAWORD
        if await self._send("acct", sock, packet) is not None:
            self.totals.answers["accounting_response"] += 1
