"""Section 16: the probes a load balancer and Prometheus call every few seconds
(docs/operations.md): ``/healthz`` (no database), ``/readyz`` (one query), and a
``/metrics`` scrape, whose gauges count the job queue, unfinished jobs and the
webhook backlog over the whole database at scrape time. Each is timed in
process, from this host (the only network allowed to scrape by default)."""

from __future__ import annotations

from django.test import Client

from bench.measure import time_runs
from bench.pages import Row, count_queries, get_ok

#: A scrape every 15 s from each Prometheus must stay a small cost.
METRICS_TARGET_MS = 50.0
PROBE_TARGET_MS = 5.0
#: /readyz opens a database connection per request when DB_CONN_MAX_AGE is 0
#: (the benchmark's setting); with kept connections it is one SELECT 1.
READY_TARGET_MS = 25.0


def measure_operations(*, runs: int) -> list[Row]:
    client = Client(raise_request_exception=False, REMOTE_ADDR="127.0.0.1")
    probes = [
        ("GET /healthz", "/healthz", PROBE_TARGET_MS),
        ("GET /readyz", "/readyz", READY_TARGET_MS),
        ("GET /metrics (scrape)", "/metrics", METRICS_TARGET_MS),
    ]
    out = []
    for name, url, target in probes:
        row = Row(section="20 operations", name=name, target=f"≤ {target:.0f} ms", url=url)
        try:
            row.portal_queries, _ = count_queries(client, url)
            row.portal = time_runs(lambda u=url: get_ok(client, u), runs=runs)
            row.met = row.portal.median_ms <= target
            if url == "/metrics":
                row.value = f"{len(client.get(url).content):,} bytes"
        except Exception as exc:  # reported, the other probes still run
            row.error = f"{type(exc).__name__}: {exc}"
        out.append(row)
    return out
