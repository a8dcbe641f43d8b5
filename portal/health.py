"""Probes for load balancers and Prometheus (docs/operations.md).

``/healthz`` (in ``portal.views``) says the process answers and touches nothing
else. ``/readyz`` says this process can serve: the database answers and every
migration the code knows is applied; otherwise 503, so a load balancer sends
traffic elsewhere during a restart or before ``migrate`` ran. ``/metrics`` is
Prometheus text for the networks in ``METRICS_ALLOWED_NETWORKS`` only (by default
this host), judged by the client's address as ``portal.client_ip`` reads it: behind
a proxy, a visitor cannot pass for the proxy.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from portal import metrics
from portal.client_ip import client_ip
from portal.database_unavailable import is_unavailable

_migrations_applied = False


def _pending_migrations() -> int:
    """How many migrations the code has that the database has not applied.

    Read until it is first zero, then remembered: a deploy that adds
    migrations starts new processes."""
    global _migrations_applied
    if _migrations_applied:
        return 0
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _migrations_applied = pending == 0
    return pending


def readyz(request):
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
        pending = _pending_migrations()
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return _text("database unavailable", 503)
    if pending:
        return _text(f"{pending} migrations not applied", 503)
    return _text("ready", 200)


@cache
def _allowed_networks() -> tuple:
    return tuple(
        ipaddress.ip_network(item, strict=False) for item in settings.METRICS_ALLOWED_NETWORKS
    )


def allowed(request) -> bool:
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in _allowed_networks() if network.version == ip.version)


def metrics_view(request):
    if not allowed(request):
        return _text("Not allowed from this address.", 403)
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


def _text(body: str, status: int) -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain", status=status)
    response["Cache-Control"] = "no-store"
    return response
