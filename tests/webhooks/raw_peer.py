"""A peer on 127.0.0.1 that speaks whatever bytes a test gives it, over a real
socket: a receiver whose status line holds a NUL byte, a non-HTTP service that
greets with a banner, a receiver that trickles its answer one byte at a time.

``greeting`` is sent as soon as a connection is accepted (a banner); ``answer``
after the request's headers and body arrived; with ``interval`` each byte of
the answer waits that long, and an empty ``answer`` keeps trickling spaces of a
header line until the sender gives up, ``stop`` is called or ``for_seconds``
passed (then it closes: a sender without a deadline ends, late, instead of
hanging the test). ``at_once``
starts the answer on accepting, before any request (a TLS handshake that
trickles)."""

from __future__ import annotations

import socket
import threading
import time


class RawPeer:
    def __init__(
        self,
        answer: bytes = b"",
        *,
        greeting: bytes = b"",
        interval: float = 0.0,
        at_once: bool = False,
        for_seconds: float = 120.0,
    ):
        self.answer = answer
        self.for_seconds = for_seconds
        self.at_once = at_once
        self.greeting = greeting
        self.interval = interval
        self.requests = 0
        self.closed_by_sender = 0
        self.lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/hooks/in"

    def start(self) -> RawPeer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            body += chunk
        with self.lock:
            self.requests += 1
        return True

    def _talk(self, conn: socket.socket) -> None:
        try:
            with conn:
                if self.greeting:
                    conn.sendall(self.greeting)
                if not self.at_once and not self._read_request(conn):
                    return
                if not self.interval:
                    conn.sendall(self.answer)
                    return
                answer = self.answer or b"HTTP/1.1 200 OK\r\nX-Slow: "
                sent = 0
                ends = time.monotonic() + self.for_seconds
                while not self._stopping.is_set() and time.monotonic() < ends:
                    byte = answer[sent : sent + 1] if sent < len(answer) else b" "
                    if not self.answer or sent < len(answer):
                        conn.sendall(byte)
                        sent += 1
                    else:
                        return
                    time.sleep(self.interval)
        except OSError:
            with self.lock:
                self.closed_by_sender += 1
