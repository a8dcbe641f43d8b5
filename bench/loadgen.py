"""Bounded HTTP load over loopback: a few threads, each sending one request at
a time with http.client until the deadline. Enough to keep a 3-worker gunicorn
busy on two cores without a tool the machine may not have."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    path: str
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: What the request stands for in the total (e.g. events in a batch).
    weight: int = 1


@dataclass
class LoadResult:
    clients: int
    seconds: float
    requests: int = 0
    weight: int = 0
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def weight_per_second(self) -> float:
        return self.weight / self.seconds if self.seconds else 0.0


def run_load(
    *,
    host: str,
    port: int,
    clients: int,
    duration: float,
    next_request: Callable[[int, int], Request],
    on_response: Callable[[Request, int, bytes], int] | None = None,
    timeout: float = 60.0,
    stop: threading.Event | None = None,
) -> LoadResult:
    """Run ``clients`` threads for ``duration`` seconds, or until ``stop`` is
    set. ``next_request(client, n)`` builds each request; ``on_response`` may
    return the weight that counts (e.g. events accepted), else the request's own
    weight counts on a 2xx."""
    lock = threading.Lock()
    result = LoadResult(clients=clients, seconds=duration)
    deadline = time.perf_counter() + duration

    def client(index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        n = 0
        while time.perf_counter() < deadline and not (stop and stop.is_set()):
            request = next_request(index, n)
            n += 1
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                conn.request(
                    request.method, request.path, body=request.body, headers=request.headers
                )
                response = conn.getresponse()
                body = response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                if conn is not None:
                    conn.close()
                conn = None
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            if on_response is not None:
                weight = on_response(request, status, body)
            else:
                weight = request.weight if 200 <= status < 300 else 0
            with lock:
                result.requests += 1
                result.weight += weight
                result.statuses[status] += 1
                result.latencies.append(elapsed)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + timeout + 5)
    result.seconds = time.perf_counter() - started
    return result
