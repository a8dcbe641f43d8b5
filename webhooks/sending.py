"""One signed HTTP request to a webhook (docs/webhooks.md "Delivery").

The body is ``{"type", "timestamp", "data"}`` and the headers those of the
Standard Webhooks spec, signed with the ``standardwebhooks`` package: every
attempt of an event has the same ``webhook-id`` and a fresh timestamp and
signature. The connection goes to the address ``ssrf.check`` accepted (never
to the name resolved again), stays open for the next event of the same lane
(HTTP keep-alive), and never follows a redirect: a 3xx is a failed attempt
like any other non-2xx answer. Each attempt has one wall-clock deadline,
``attempt_seconds()`` (``WEBHOOK_ATTEMPT_SECONDS``), for resolving the name
when the connection is opened, connecting, the TLS handshake, sending, and
reading the status line, headers and body together (``webhooks.deadline``): a
receiver that trickles its answer is cut off there like one that is silent.

``send`` never raises: whatever goes wrong (the URL, the network, bytes that
are not HTTP) is a failed ``Result``, so the lane logs an attempt and counts
the failure instead of the task crashing and trying again every minute. Its
``error`` is a class from ``webhooks.errors``, never the peer's bytes.
"""

from __future__ import annotations

import http.client
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from django.conf import settings
from standardwebhooks.webhooks import Webhook as Signer

from events.models import AccountEvent
from webhooks import deadline, errors, ssrf

#: Seconds one attempt may take in all, from opening the connection (or
#: sending on a kept one) to the answer's last byte.
ATTEMPT_SECONDS = 10.0
USER_AGENT = "EndpointPortal-Webhooks/1"

logger = logging.getLogger("webhooks")


def attempt_seconds() -> float:
    return float(getattr(settings, "WEBHOOK_ATTEMPT_SECONDS", ATTEMPT_SECONDS))


@dataclass
class Result:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str = ""  # an errors.ErrorClass value; "" when ok


def body(event: AccountEvent) -> bytes:
    return orjson.dumps(
        {"type": event.type, "timestamp": event.created_at, "data": event.payload},
        option=orjson.OPT_UTC_Z,
    )


def headers(*, secret: str, event: AccountEvent, payload: bytes) -> dict[str, str]:
    now = datetime.now(tz=UTC)
    signature = Signer(secret).sign(msg_id=event.webhook_id, timestamp=now, data=payload.decode())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


class Connection:
    """A keep-alive connection to one webhook URL, checked when (re)opened."""

    def __init__(self, url: str):
        self.url = url
        self._conn: http.client.HTTPConnection | None = None
        self._target: ssrf.Target | None = None
        self._deadline = deadline.Deadline()

    def _open(self) -> http.client.HTTPConnection:
        target = ssrf.check(self.url)
        timeout = self._deadline.left()  # resolving the name counts too
        if target.scheme == "https":
            conn = http.client.HTTPSConnection(
                target.host, target.port, timeout=timeout, context=deadline.tls_context()
            )
        else:
            conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

        def connect_to_checked(address, timeout, source_address=None):
            return deadline.connect(target.address, target.port, self._deadline)

        # http.client connects through this hook: the checked address, not the
        # name again; TLS still verifies the certificate for the name.
        conn._create_connection = connect_to_checked
        conn.connect()
        conn.sock.deadline = self._deadline  # the TLS socket, when there is one
        self._target = target
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def send(self, *, secret: str, event: AccountEvent) -> Result:
        started = time.perf_counter()
        payload = body(event)
        self._deadline.start(attempt_seconds())
        try:
            if self._conn is None:
                self._conn = self._open()
            self._conn.request(
                "POST",
                self._target.path,
                body=payload,
                headers=headers(secret=secret, event=event, payload=payload),
            )
            response = self._conn.getresponse()
            response.read(64 * 1024)
            status = response.status
            if response.will_close or not response.isclosed():
                self.close()  # the server closes, or sent more than we read
        except Exception as exc:  # noqa: BLE001 - any failure is an attempt, never a crash
            self.close()
            error = errors.classify(exc)
            if error == errors.ErrorClass.INTERNAL_ERROR:
                logger.warning("webhook %s: %s while sending", self.url, type(exc).__name__)
            return Result(False, None, _ms(started), error.value)
        latency = _ms(started)
        if 200 <= status < 300:
            return Result(True, status, latency)
        if 300 <= status < 400:
            return Result(False, status, latency, errors.ErrorClass.REDIRECT.value)
        return Result(False, status, latency, errors.ErrorClass.HTTP_STATUS.value)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
