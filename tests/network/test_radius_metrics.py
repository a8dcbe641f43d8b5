"""What the RADIUS server counts reaches /metrics (portal_radius_requests_total)."""

from __future__ import annotations

from network.radius.server import Counters
from portal import metrics


def _count(kind: str, result: str) -> float:
    value = metrics.radius_requests.labels(kind=kind, result=result)._value.get()
    return float(value)


def test_each_counted_packet_is_a_metric_by_kind_and_result():
    counters = Counters()
    before_accept = _count("access", "access_accept")
    before_unknown = _count("accounting", "unknown_client")

    counters.add("access_accept", kind="auth")
    counters.add("access_accept", kind="auth")
    counters.add("unknown_client", 3, kind="acct")

    assert _count("access", "access_accept") == before_accept + 2
    assert _count("accounting", "unknown_client") == before_unknown + 3
    assert counters.line() == "access_accept=2 unknown_client=3"
