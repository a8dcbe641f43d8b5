"""Section 16: connectivity (docs/connectivity.md): the endpoint page with its
Connectivity card and Inventory → Activity, the event log, over ten account
events per endpoint (10M at a million endpoints), through the portal
in-process as sections 1–4 measure pages. Network events/s with ``plmn`` and
``rat`` is section 7 (its events carry both)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test import Client
from django.utils import timezone

from bench.measure import time_runs
from bench.pages import LIST_TARGET_MS, PORTAL, PageError, Row, count_queries, get_ok
from bench.picks import Picks
from events import outbox
from events.models import AccountEvent
from inventory.models import Connectivity, Endpoint

DETAIL_TARGET_MS = 50.0
#: Account events per endpoint the section fills the log with.
EVENTS_PER_ENDPOINT = 10
_EVENTS = connection.ops.quote_name(AccountEvent._meta.db_table)
_ENDPOINTS = connection.ops.quote_name(Endpoint._meta.db_table)
#: The types the filled log spreads over (the network batch's own).
_TYPES = (
    "endpoint.state_changed",
    "endpoint.session_started",
    "endpoint.session_ended",
    "endpoint.session_rejected",
    "endpoint.network_changed",
)


def fill_event_log(total_endpoints: int) -> int:
    """Ten events per endpoint over the last 30 days, in one INSERT … SELECT,
    unless the log already holds that many; returns how many it holds."""
    wanted = total_endpoints * EVENTS_PER_ENDPOINT
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {_EVENTS}")
        have = cursor.fetchone()[0]
        if have >= wanted * 0.9:
            return have
        cursor.execute(
            f"""
            INSERT INTO {_EVENTS} ({outbox.COLUMN_LIST})
            SELECT x.account_id, x.type, x.id,
                   jsonb_build_object('version', 1,
                                      'endpoint', jsonb_build_object('id', x.id, 'iccid', x.iccid),
                                      'action', 'session_start', 'from_state', 'idle',
                                      'to_state', 'active', 'reason', ''),
                   now() - make_interval(secs => ((x.id * 7919 + x.n * 104729) %% 2592000)),
                   {outbox.seq("x.account_id", "x.type")}
              FROM (SELECT e.account_id, e.id, e.iccid, n,
                           (%(types)s::text[])[1 + (e.id + n) %% %(kinds)s] AS type
                      FROM {_ENDPOINTS} e CROSS JOIN generate_series(1, %(per)s) AS n) x
            """,
            {"types": list(_TYPES), "kinds": len(_TYPES), "per": EVENTS_PER_ENDPOINT},
        )
        added = cursor.rowcount
        cursor.execute(f"ANALYZE {_EVENTS}")
        return have + added


def pages(p: Picks) -> list[tuple[str, str, float]]:
    week = (timezone.now() - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    return [
        ("detail with the Connectivity card", f"{PORTAL}{p.endpoint.iccid}/", DETAIL_TARGET_MS),
        ("activity, newest", "/inventory/activity/", LIST_TARGET_MS),
        (
            "activity, one type",
            "/inventory/activity/?type=endpoint.session_rejected",
            LIST_TARGET_MS,
        ),
        (
            "activity, one endpoint",
            f"/inventory/activity/?endpoint={p.endpoint.iccid}",
            LIST_TARGET_MS,
        ),
        ("activity, a week back", f"/inventory/activity/?to={week}", LIST_TARGET_MS),
    ]


def measure_connectivity(*, p: Picks, portal: Client, runs: int) -> list[Row]:
    held = fill_event_log(p.total)
    # The card of the endpoint opened: online, on a known network, refused once.
    now = timezone.now()
    Connectivity.objects.update_or_create(
        endpoint=p.endpoint,
        defaults={
            "session_started_at": now - timedelta(minutes=5),
            "session_apn": "bench.apn",
            "session_bytes_down": 1_500_000,
            "plmn": "23415",
            "rat": "4G",
            "network_seen_at": now,
            "refused_at": now - timedelta(hours=1),
            "refused_reason": "imei_mismatch",
            "refused_event_id": "bench-refused",
        },
    )
    rows = []
    for name, url, target in pages(p):
        row = Row(section="19 connectivity", name=name, target=f"<= {target:.0f} ms")
        row.url = url
        row.note = f"{held:,} account events in the log"
        try:
            row.portal_queries, _ = count_queries(portal, url)
            row.portal = time_runs(lambda u=url: get_ok(portal, u), runs=runs)
            row.met = row.portal.median_ms <= target
        except PageError as exc:
            row.error = str(exc)
        print(f"  {name:<44} {row.portal.median_ms if row.portal else '-'} ms {row.error}")
        rows.append(row)
    return rows
