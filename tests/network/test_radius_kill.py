"""``manage.py radius`` killed with SIGKILL in the middle of an accounting load:
every Accounting-Response that went out was for a stored report, and after a
new server comes up and the NAS sends everything unanswered again (and some
answered reports too), each report is counted exactly once."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from pyrad import packet as rp

from inventory.models import NetworkEvent, State
from network.models import RadiusClient
from network.radius.batch import session_hash
from network.radius.packets import DICTIONARY
from tests.factories import EndpointFactory, GroupFactory
from tests.network.radius_peers import SECRET, RadiusProcess
from usage.models import EndpointDailyUsage

SESSIONS = 30
REPORTS = 20
STEP_UP, STEP_DOWN = 1_000, 7_000


def report(imsi: str, session: str, n: int) -> rp.AcctPacket:
    packet = rp.AcctPacket(secret=SECRET.encode(), dict=DICTIONARY)
    packet["User-Name"] = imsi
    packet["Acct-Status-Type"] = "Interim-Update"
    packet["Acct-Session-Id"] = session
    packet["Acct-Input-Octets"] = STEP_UP * n
    packet["Acct-Output-Octets"] = STEP_DOWN * n
    return packet


def exchange(sock: socket.socket, packet: rp.AcctPacket, raw: bytes, port: int) -> bool:
    """Send ``raw`` and wait for its verified answer (a NAS's one try)."""
    sock.sendto(raw, ("127.0.0.1", port))
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(4096)
        except (TimeoutError, ConnectionRefusedError):
            return False
        if data[1] == packet.id and packet.VerifyReply(packet.CreateReply(packet=data), data):
            return True
    return False


@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_load_loses_nothing_and_counts_nothing_twice(account, tmp_path):
    nas = RadiusClient(name="pgw-1", address="127.0.0.1/32")
    nas.set_secret(SECRET)
    nas.save()
    group = GroupFactory(account=account, apn="iot.example", vslice__subnet="100.64.0.0/16")
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
        for _ in range(SESSIONS)
    ]
    imsis = [endpoint.imsis.first().imsi for endpoint in endpoints]

    server = RadiusProcess(tmp_path / "radius.log")
    answered: list[tuple[int, int]] = []
    unanswered: list[tuple[int, int]] = []
    packets: dict[tuple[int, int], tuple[rp.AcctPacket, bytes]] = {}
    lock = threading.Lock()

    def gateway(s: int) -> None:
        ok = True
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for n in range(1, REPORTS + 1):
                packet = report(imsis[s], f"sess-{s}", n)
                packet.id = n % 256
                raw = packet.RequestPacket()
                # Once the server is gone the NAS queues its reports for later.
                ok = ok and exchange(sock, packet, raw, server.acct_port)
                with lock:
                    packets[(s, n)] = (packet, raw)
                    (answered if ok else unanswered).append((s, n))

    threads = [threading.Thread(target=gateway, args=(s,)) for s in range(SESSIONS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(answered) < SESSIONS * REPORTS // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    for thread in threads:
        thread.join()
    server.stop()
    assert SESSIONS * REPORTS // 3 <= len(answered) < SESSIONS * REPORTS, "no kill mid-load"
    assert unanswered

    # Every report that was answered is stored.
    def event_id(s: int, n: int) -> str:
        tag = session_hash(f"sess-{s}")
        return f"radius-{nas.pk}-interim-{tag}-{STEP_UP * n}-{STEP_DOWN * n}"

    stored = set(NetworkEvent.objects.values_list("event_id", flat=True))
    assert {event_id(s, n) for s, n in answered} <= stored

    # The NAS sends the unanswered reports again to a new server, and some of
    # the answered ones as well (answers lost on the way); all get answers.
    server = RadiusProcess(tmp_path / "radius-2.log")
    try:
        again = sorted(unanswered) + sorted(answered)[::7]

        def resend(s: int) -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for key in again:
                    if key[0] == s:
                        packet, raw = packets[key]
                        if not any(exchange(sock, packet, raw, server.acct_port) for _ in range(5)):
                            failed.append(key)

        failed: list = []
        threads = [threading.Thread(target=resend, args=(s,)) for s in range(SESSIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failed
    finally:
        server.stop()

    # Each session's usage is its last cumulative counters: once, not twice.
    assert NetworkEvent.objects.filter(type="session_update").count() == SESSIONS * REPORTS
    for endpoint in endpoints:
        usage = EndpointDailyUsage.objects.get(endpoint=endpoint)
        assert (usage.bytes_up, usage.bytes_down) == (STEP_UP * REPORTS, STEP_DOWN * REPORTS)
