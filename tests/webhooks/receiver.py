"""A real webhook receiver for the tests and the benchmark: an HTTP/1.1 server
on 127.0.0.1 in a thread of its own, verifying every delivery's signature with
the ``standardwebhooks`` package and keeping what it got, in arrival order."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError


class Receiver:
    """``status`` decides each answer (called with the delivery's body; 200 by
    default); ``received`` holds ``(webhook-id, body)`` of every verified
    delivery; ``bad_signatures`` counts those that did not verify."""

    def __init__(self, secret: str = "", status: Callable[[dict], int] | None = None):
        self.secret = secret
        self.status = status or (lambda body: 200)
        self.received: list[tuple[str, dict]] = []
        self.answered: list[int] = []
        self.bad_signatures = 0
        self.redirect_to = "http://169.254.169.254/latest/meta-data/"
        self.requests = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.headers_seen: list[dict] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # As production servers do: the body's packet does not wait
                # for the ACK of the headers' (Nagle against delayed ACK, 40 ms).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with receiver.lock:
                    receiver.connections += 1

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                data = self.rfile.read(length)
                if len(data) < length:
                    return  # the sender died mid-request (a killed worker): nothing arrived
                headers = dict(self.headers.items())
                with receiver.lock:
                    receiver.requests += 1
                    receiver.paths.append(self.path)
                try:
                    body = Verifier(receiver.secret).verify(data, headers)
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self._answer(401)
                    return
                code = receiver.status(body)
                with receiver.lock:
                    receiver.answered.append(code)
                    receiver.headers_seen.append(headers)
                    if 200 <= code < 300:
                        receiver.received.append((headers["webhook-id"], body))
                self._answer(code)

            def _answer(self, code: int):
                payload = json.dumps({"status": code}).encode()
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A sender killed mid-request resets its connection: expected here.
        self.server.handle_error = lambda request, client_address: None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/in"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        with self.lock:
            return [webhook_id for webhook_id, _ in self.received]

    def bodies(self) -> list[dict]:
        with self.lock:
            return [body for _, body in self.received]
