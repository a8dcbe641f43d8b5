"""``python -m bench.run``: load the benchmark database (or reuse it), measure,
print the table, write the JSON. ``make bench`` runs it at 1,000,000 endpoints,
``make bench-smoke`` at 10,000 with a few runs each (no timing assertions).

Everything it needs (the database, gunicorn) it starts itself and stops again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECTIONS = (
    "list",
    "detail",
    "export",
    "load",
    "addressing",
    "bulk",
    "keyvalues",
    "events",
    "jobs",
    "two_factor",
    "webhooks",
    "api",
    "audit",
    "usage",
    "tokens",
    "radius",
    "combinations",
    "connectivity",
    "operations",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--database", default="bench_1m", help="database name (own, dedicated)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per page (after warm-up)")
    parser.add_argument("--bulk-runs", type=int, default=3)
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--events-seconds", type=float, default=25.0)
    parser.add_argument("--fresh", action="store_true", help="drop and reload the database first")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument(
        "--load-only", action="store_true", help="prepare the database, measure nothing"
    )
    parser.add_argument("--out", default=str(BASE_DIR / "bench" / "results" / "latest.json"))
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="10,000 endpoints in a throw-away database, 3 runs, short loads",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.endpoints = 10_000
        args.database = "bench_smoke" if args.database == "bench_1m" else args.database
        args.runs, args.bulk_runs = 3, 1
        args.load_seconds, args.events_seconds = 3.0, 3.0
        args.fresh = args.drop = True
        if args.out.endswith("latest.json"):
            args.out = str(BASE_DIR / "bench" / "results" / "smoke.json.tmp")
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    return args


def step(text: str, started: float) -> None:
    print(f"\n== {text} ({time.monotonic() - started:.0f} s)", flush=True)


def prepare_database(args, server: str, started: float) -> str:
    """Create, migrate and load the database unless it already holds the load."""
    from bench import database

    db_url = database.ensure_database(server, args.database, fresh=args.fresh)
    os.environ["DATABASE_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    step(f"migrate {args.database}", started)
    call_command("migrate", interactive=False, verbosity=0)
    count = database.endpoint_count(db_url)
    if count and count != args.endpoints:
        print(f"{args.database} holds {count:,} endpoints, not {args.endpoints:,}: reloading")
        connection.close()
        database.ensure_database(server, args.database, fresh=True)
        call_command("migrate", interactive=False, verbosity=0)
        count = 0
    if count == 0:
        step(f"seed_demo --endpoints {args.endpoints:,}", started)
        call_command("seed_demo", endpoints=args.endpoints)
        step("VACUUM ANALYZE (a loaded table as it stands after autovacuum)", started)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    else:
        print(f"reusing {args.database}: {count:,} endpoints already loaded")
    return db_url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    sys.path.insert(0, str(BASE_DIR))
    from bench import database

    server = database.server_url()
    db_url = prepare_database(args, server, started)
    if args.load_only:
        return 0
    try:
        rows, meta = measure(args, db_url, started)
    finally:
        if args.drop:
            from django.db import connection

            connection.close()
            database.drop_database(server, args.database)
    from bench import report

    out = Path(args.out)
    step(f"results (also in {out})", started)
    print(report.markdown(rows))
    failed = [row.name for row in rows if row.error]
    if failed:
        print(f"\n{len(failed)} measurement(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or not rows else 0


def measure(args, db_url: str, started: float):
    from django.test import Client

    from bench import picks as picks_module
    from bench import report
    from bench.pages import (
        ADMIN,
        PORTAL,
        PageError,
        deep_cursor,
        list_pages,
        measure_detail,
        measure_export,
        measure_lists,
        measure_query_counts,
    )

    step("choosing what to ask for", started)
    p = picks_module.choose()
    print(
        f"account {p.account.slug}: {p.endpoints:,} of {p.total:,} endpoints; group "
        f"{p.group.name}; tag {p.tag}; endpoint {p.endpoint.iccid}; export "
        f"{p.export_filter[0]}={p.export_filter[1]} ({p.export_rows:,} rows)"
    )
    portal = Client(raise_request_exception=False)
    admin = Client(raise_request_exception=False)
    portal.force_login(p.operator)
    admin.force_login(p.staff)
    rows = []
    meta = {
        "endpoints": p.total,
        "account_endpoints": p.endpoints,
        "database": args.database,
        "runs": args.runs,
        "bulk_runs": args.bulk_runs,
        "picks": {
            "group": p.group.name,
            "tag": p.tag,
            "iccid": p.endpoint.iccid,
            "imsi": p.imsi,
            "name_fragment": p.name_fragment,
            "reference_fragment": p.reference_fragment,
            "export": f"{p.export_filter[0]}={p.export_filter[1]}",
        },
    }
    deep_url = f"{PORTAL}?per_page=50"
    if {"list", "load"} & set(args.only):
        cache = BASE_DIR / "bench" / "results" / f"deep-{args.database}.url.tmp"
        cached = cache.read_text().strip() if cache.exists() and not args.fresh else ""
        if cached and portal.get(cached).status_code == 200:
            deep_url = cached
            print(f"deep page cursor of an earlier walk: {deep_url}")
        else:
            step(f"walking the Next links {p.deep_rows:,} rows deep", started)
            t0 = time.monotonic()
            try:
                deep_url, walked, pages = deep_cursor(portal, rows=p.deep_rows)
                took = time.monotonic() - t0
                print(f"{walked:,} rows in {pages} pages, {took:.0f} s: {deep_url}")
                cache.write_text(deep_url)
            except PageError as exc:
                print(f"deep page unavailable: {exc}")
                meta["deep_url_error"] = str(exc)
        meta["deep_url"] = deep_url
    if "list" in args.only:
        step(f"1-3 list pages: portal, stock admin, SQL floor ({args.runs} runs)", started)
        list_rows = measure_lists(
            p=p, portal=portal, admin=admin, db_url=db_url, runs=args.runs, deep_url=deep_url
        )
        rows += list_rows
        rows.append(measure_query_counts(portal=portal, rows=list_rows))
    if "detail" in args.only:
        step("4 detail page", started)
        rows += measure_detail(p=p, portal=portal, runs=args.runs)
    if "export" in args.only:
        step("4 CSV export", started)
        rows += measure_export(p=p, portal=portal, runs=max(3, args.runs // 3))
    if "load" in args.only:
        from bench.http_load import measure_throughput

        step(f"8 list throughput, 10 clients, {args.load_seconds:.0f} s each", started)
        pages = list_pages(p, deep_url)
        portal_urls = [f"{PORTAL}?{pg.portal}" for pg in pages if pg.portal is not None]
        admin_urls = [f"{ADMIN}?{pg.admin}" for pg in pages if pg.admin is not None]
        rows += measure_throughput(
            db_url=db_url,
            portal_urls=portal_urls,
            admin_urls=admin_urls,
            cookies={
                "portal": portal.cookies["sessionid"].value,
                "admin": admin.cookies["sessionid"].value,
            },
            seconds=args.load_seconds,
        )
    if "addressing" in args.only:
        from bench.allocation import measure_allocation

        step("6 addressing", started)
        rows += measure_allocation(p=p, runs=args.runs, used=6_000 if args.smoke else 60_000)
    if "bulk" in args.only:
        from bench.bulk import measure_bulk

        step(f"5 bulk actions ({args.bulk_runs} runs each)", started)
        rows += measure_bulk(p=p, runs=args.bulk_runs)
    if "keyvalues" in args.only:
        from bench.key_values import measure_key_values

        step(f"13 kv= filtered list and API pages ({args.runs} runs)", started)
        rows += measure_key_values(p=p, portal=portal, db_url=db_url, runs=args.runs)
    if "events" in args.only:
        from bench.http_load import measure_events

        step(f"7 network events, {args.events_seconds:.0f} s", started)
        rows.append(measure_events(p=p, db_url=db_url, seconds=args.events_seconds))
    if "jobs" in args.only:
        from bench.jobs import measure_jobs

        size = min(100_000, p.endpoints // 3)
        step(f"9 bulk actions of ~{size:,} as jobs, with a worker and the events load", started)
        rows += measure_jobs(p=p, db_url=db_url, seconds=min(args.events_seconds, 10.0), size=size)
    if "two_factor" in args.only:
        from bench.two_factor import measure_two_factor

        step(f"10 two-factor sign-in and its cost per page ({args.runs} runs)", started)
        rows += measure_two_factor(p=p, portal=portal, runs=args.runs)
    if "webhooks" in args.only:
        from bench.webhooks import measure_webhooks

        size = min(100_000, p.endpoints // 3)
        step(f"12 webhooks: {size:,} events drained, idle latency, network events", started)
        rows += measure_webhooks(
            p=p,
            db_url=db_url,
            size=size,
            samples=5 if args.smoke else 20,
            seconds=min(args.events_seconds, 10.0),
        )
    if "api" in args.only:
        from bench.api import measure_api

        step(f"11 customer API ({args.runs} runs; load {args.load_seconds:.0f} s)", started)
        rows += measure_api(p=p, db_url=db_url, runs=args.runs, seconds=args.load_seconds)
    if "audit" in args.only:
        from bench.audit import measure_audit

        step(f"14 audit log with {args.endpoints:,} rows in the account", started)
        rows += measure_audit(p=p, rows=args.endpoints, runs=args.runs)
    if "usage" in args.only:
        from bench.usage import measure_usage

        step(f"15 dashboard, groups, Usage tab, exact counts ({args.runs} runs)", started)
        rows += measure_usage(p=p, portal=portal, runs=args.runs)
    if "tokens" in args.only:
        from bench.tokens import measure_tokens

        tokens = 2_000 if args.smoke else 20_000
        step(f"16 API tokens page with {tokens:,} tokens in the account", started)
        rows += measure_tokens(p=p, tokens=tokens, runs=args.runs)
    if "radius" in args.only:
        from bench.radius import measure_radius

        step("17 RADIUS: auth and accounting from 50 senders, radclient, disconnects", started)
        rows += measure_radius(
            p=p, db_url=db_url, seconds=min(args.events_seconds, 10.0), smoke=args.smoke
        )
    if "combinations" in args.only:
        from bench.combinations import measure_combinations

        step("18 every filter x sort of the list and the API, first page", started)
        rows += measure_combinations(p=p, portal=portal, runs=1 if args.smoke else 3)
    if "connectivity" in args.only:
        from bench.connectivity import measure_connectivity

        step(f"19 connectivity card and the event log ({args.runs} runs)", started)
        rows += measure_connectivity(p=p, portal=portal, runs=args.runs)
    if "operations" in args.only:
        from bench.operations import measure_operations

        step(f"20 probes and the /metrics scrape ({args.runs} runs)", started)
        rows += measure_operations(runs=args.runs)
    meta["seconds"] = round(time.monotonic() - started)
    report.write(Path(args.out), rows, meta)
    return rows, meta


if __name__ == "__main__":
    sys.exit(main())
