"""One delivery attempt has one wall-clock deadline: a receiver that trickles
its answer one byte a second (each read gets a byte well within any per-read
timeout) is cut off at ``WEBHOOK_ATTEMPT_SECONDS`` and logged as ``timeout``,
in the HTTP answer and in a TLS handshake alike; a kept-alive connection gets a
fresh deadline for each attempt. Real peers on 127.0.0.1; the only time bounds
asserted are the deadline setting's."""

from __future__ import annotations

import time

import pytest

from events.models import AccountEvent, EventType
from tests.webhooks.raw_peer import RawPeer
from webhooks import sending

DEADLINE = 1.5
SLACK = 1.0  # scheduling on a shared machine
SECRET = "whsec_" + "A" * 32


@pytest.fixture(autouse=True)
def short_deadline(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = "127.0.0.0/8"
    settings.WEBHOOK_ATTEMPT_SECONDS = DEADLINE


def send(connection: sending.Connection, pk: int = 1) -> tuple[sending.Result, float]:
    event = AccountEvent(pk=pk, type=EventType.TEST, payload={"version": 1})
    started = time.monotonic()
    result = connection.send(secret=SECRET, event=event)
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "peer",
    [
        RawPeer(b"", interval=0.25, for_seconds=20),  # a header line that goes on
        RawPeer(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + b"x" * 40, interval=0.25),
    ],
    ids=["headers", "body"],
)
def test_a_trickling_answer_is_cut_at_the_deadline(peer):
    peer.start()
    connection = sending.Connection(peer.url)
    try:
        result, took = send(connection)
    finally:
        connection.close()
        peer.stop()
    assert (result.ok, result.error, result.status_code) == (False, "timeout", None)
    assert DEADLINE <= took < DEADLINE + SLACK
    assert DEADLINE * 1000 <= result.latency_ms < (DEADLINE + SLACK) * 1000


def test_a_trickling_tls_handshake_is_cut_at_the_deadline():
    # A TLS record header, then its body one byte at a time.
    peer = RawPeer(b"\x16\x03\x03\x40\x00" + b"\x00" * 200, interval=0.25, at_once=True).start()
    connection = sending.Connection(peer.url.replace("http://", "https://"))
    try:
        result, took = send(connection)
    finally:
        connection.close()
        peer.stop()
    assert (result.ok, result.error) == (False, "timeout")
    assert DEADLINE <= took < DEADLINE + SLACK


def test_each_attempt_on_a_kept_connection_has_its_own_deadline(receiver):
    """Several quick attempts on one keep-alive connection, spread over more
    than one deadline's time, all succeed."""
    receiver.secret = SECRET
    connection = sending.Connection(receiver.url)
    try:
        started = time.monotonic()
        results = []
        while time.monotonic() - started < DEADLINE * 1.5:
            results.append(send(connection, pk=len(results) + 1)[0])
            time.sleep(0.2)
    finally:
        connection.close()
    assert results and all(r.ok for r in results), [r.error for r in results]
    assert receiver.connections == 1
