"""What the portal tells Prometheus (``GET /metrics``, docs/operations.md).

Built on ``prometheus-client`` rather than django-prometheus: the portal needs a
handful of its own metrics (per-route latency, network events and RADIUS requests
by result, lost database connections) and gauges read from the database when
scraped; django-prometheus would add dozens of per-model and per-middleware series
and its own monkey-patched database backends, and still not know the queue.

Counters and histograms live in each process. Under gunicorn (several worker
processes) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory writable by all
of them: prometheus-client then keeps the values in files there and ``/metrics``
adds the processes up. The queue, webhook and job gauges are not counted by any
process: ``DatabaseCollector`` asks the database at scrape time, so every web
process answers the same.

Nothing here is per account: labels are routes, kinds and results, never an
account, a user or an endpoint.

Other parts of the portal count with the objects below, e.g. a RADIUS server:

    from portal.metrics import radius_requests
    radius_requests.labels(kind="accounting", result="accepted").inc()
"""

from __future__ import annotations

import os
import time

from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Metrics without labels open their file as soon as they are defined.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

request_latency = Histogram(
    "portal_request_duration_seconds",
    "Time from the request reaching Django to its response, by route name.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
requests_total = Counter(
    "portal_requests_total",
    "Requests answered, by route name and status class.",
    ["view", "status"],
)
database_errors = Counter(
    "portal_database_unavailable_total",
    "Requests answered 503 because the database could not be reached.",
)
network_events = Counter(
    "portal_network_events_total",
    "Events of the network API, by the status each was answered with.",
    ["result"],
)
#: For the RADIUS server: ``kind`` is access or accounting (or disconnect),
#: ``result`` what it answered (accepted, rejected, dropped, ...).
radius_requests = Counter(
    "portal_radius_requests_total",
    "RADIUS requests, by kind and result.",
    ["kind", "result"],
)


def route_name(request) -> str:
    """The route's name (``inventory:endpoint_list``), never the path: a path
    holds ids, and one series per id would leak them and grow without end."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unresolved"
    return match.view_name or "unnamed"


class MetricsMiddleware:
    """Times every request under its route's name. Outermost but for the
    request id, so the time includes every other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        view = route_name(request)
        method = request.method if request.method in _METHODS else "other"
        request_latency.labels(view=view, method=method).observe(time.perf_counter() - started)
        requests_total.labels(view=view, status=f"{response.status_code // 100}xx").inc()
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class DatabaseCollector:
    """Gauges read from the database at scrape time: the job queue, jobs by
    state, the webhook backlog and failing webhooks. Sums over all accounts."""

    def collect(self):
        from portal.metrics_queries import database_gauges

        for name, help_text, labels, rows in database_gauges():
            family = GaugeMetricFamily(name, help_text, labels=list(labels))
            for label_values, value in rows:
                family.add_metric(list(label_values), value)
            yield family


def exposition() -> bytes:
    """The text a scrape gets: this process's (or every process's) counters and
    histograms, then the database gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(PROCESS_REGISTRY)
    gauges = CollectorRegistry()
    gauges.register(DatabaseCollector())
    return body + generate_latest(gauges)
