"""Section 15: the dashboard, the groups page, the Usage tab and the list with
exact counts (state and group filters), through the portal in-process, as
sections 1–4 measure pages (docs/benchmark.md, docs/dashboard.md)."""

from __future__ import annotations

from django.test import Client

from bench.measure import time_runs
from bench.pages import LIST_TARGET_MS, PORTAL, PageError, Row, count_queries, get_ok
from bench.picks import Picks

DASHBOARD_TARGET_MS = 50.0


def pages(p: Picks) -> list[tuple[str, str, float]]:
    """(name, URL, target in ms)."""
    return [
        ("dashboard", "/inventory/", DASHBOARD_TARGET_MS),
        ("groups page", "/inventory/groups/", DASHBOARD_TARGET_MS),
        ("usage tab, 30 days", f"{PORTAL}{p.endpoint.iccid}/usage/", LIST_TARGET_MS),
        ("usage tab, 90 days", f"{PORTAL}{p.endpoint.iccid}/usage/?days=90", LIST_TARGET_MS),
        ("list, exact count: state=active", f"{PORTAL}?state=active", LIST_TARGET_MS),
        ("list, exact count: group", f"{PORTAL}?group={p.group.pk}", LIST_TARGET_MS),
        (
            "list, exact count: group + 2 states",
            f"{PORTAL}?group={p.group.pk}&state=idle&state=detached",
            LIST_TARGET_MS,
        ),
        ("list, inactive for 7 days", f"{PORTAL}?inactive=7", LIST_TARGET_MS),
        ("list, this month's usage column", f"{PORTAL}?columns=usage", LIST_TARGET_MS),
    ]


def measure_usage(*, p: Picks, portal: Client, runs: int) -> list[Row]:
    rows = []
    for name, url, target in pages(p):
        row = Row(section="15 usage and dashboard", name=name, target=f"<= {target:.0f} ms")
        row.url = url
        try:
            row.portal_queries, _ = count_queries(portal, url)
            row.portal = time_runs(lambda u=url: get_ok(portal, u), runs=runs)
            row.met = row.portal.median_ms <= target
        except PageError as exc:
            row.error = str(exc)
        print(f"  {name:<44} {row.portal.median_ms if row.portal else '-'} ms {row.error}")
        rows.append(row)
    return rows
