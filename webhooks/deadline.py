"""A wall-clock deadline for one delivery attempt, kept by the socket itself
(docs/webhooks.md "Delivery").

A socket timeout bounds each read, not the request: a receiver that answers
one byte every second never lets a 5 s read timeout fire, and would hold a
worker for as long as it likes. Here every socket operation first sets the
socket's timeout to what is left of the attempt's deadline (and fails at once
when nothing is left), so connect, TLS handshake, sending the request and
reading the status line, headers and body end together at the deadline, with
a ``TimeoutError`` the attempt records as ``timeout``.

``http.client`` reads through ``socket.makefile``, which calls ``recv_into``;
TLS reads and writes are ``SSLSocket`` methods, and a TLS handshake or a
``sendall`` is one call that CPython bounds as a whole by the timeout set
before it. No thread and no signal is needed.
"""

from __future__ import annotations

import socket
import ssl
import time


class Deadline:
    """The end of the current attempt (``time.monotonic()`` seconds), shared by
    a connection's sockets; ``start`` moves it for the next attempt."""

    def __init__(self) -> None:
        self.at = float("inf")

    def start(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; ``TimeoutError`` when there are none."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the attempt's deadline passed")
        return left


class _Bounded:
    """Mixed into a socket class: arm the timeout before each operation."""

    deadline: Deadline | None = None

    def _arm(self) -> None:
        if self.deadline is not None:
            self.settimeout(self.deadline.left())

    def recv(self, *args, **kwargs):
        self._arm()
        return super().recv(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        self._arm()
        return super().recv_into(*args, **kwargs)

    def send(self, *args, **kwargs):
        self._arm()
        return super().send(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        self._arm()
        return super().sendall(*args, **kwargs)


class BoundedSocket(_Bounded, socket.socket):
    pass


class BoundedSSLSocket(_Bounded, ssl.SSLSocket):
    def read(self, *args, **kwargs):
        self._arm()
        return super().read(*args, **kwargs)

    def do_handshake(self, *args, **kwargs):
        self._arm()
        return super().do_handshake(*args, **kwargs)


def connect(address: str, port: int, deadline: Deadline) -> BoundedSocket:
    """A TCP connection to ``address`` (an IP address, already checked), made
    within what is left of ``deadline``."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = BoundedSocket(family, socket.SOCK_STREAM)
    try:
        sock.deadline = deadline
        sock.settimeout(deadline.left())
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


def tls_context() -> ssl.SSLContext:
    """A default (verifying) context whose sockets keep the deadline."""
    context = ssl.create_default_context()
    context.sslsocket_class = BoundedSSLSocket
    return context
