"""Sections 7 and 8, over HTTP against gunicorn (3 workers on two cores):
network events per second through the API in batches of 500, and list-page
throughput at 10 concurrent clients, beside the stock admin under the same load."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

from bench import cpu
from bench.in_service import in_service_endpoints
from bench.loadgen import LoadResult, Request, run_load
from bench.measure import summarise
from bench.pages import Row
from bench.picks import Picks
from bench.server import Gunicorn
from bench.snapshot import Snapshot

EVENTS_TARGET = 5000
BATCH = 500
POSTERS = 3
THROUGHPUT_CLIENTS = 10
POOL = 50_000


def _event_pool(p: Picks) -> tuple[list[tuple[str, str, str]], int]:
    """(IMSI, APN of the primary group, IMEI if locked) of in-service endpoints,
    and the highest endpoint id among them (the snapshot's bound)."""
    rows = in_service_endpoints(p.account, limit=POOL)
    pool = [(row.imsi, row.apn, row.imei if row.imei_locked else "") for row in rows]
    return pool, max(row.id for row in rows)


#: Serving networks and radios the events report (spread over the devices).
PLMNS = ("23415", "26201", "20801", "22210", "21407", "310260")
RATS = ("4G", "LTE-M", "NB-IoT", "5G", "3G")


class _Events:
    """Batches of well-formed events in a plausible order per device: attach,
    session start, a usage report, session end (with its last usage), detach,
    each later than the one before. The usage reports make every batch write
    the daily and monthly usage too (docs/usage.md)."""

    TYPES = ("attach", "session_start", "session_update", "session_end", "detach")

    def __init__(self, pool: list[tuple[str, str, str]], token: str):
        self.pool = pool
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.lock = threading.Lock()
        self.counter = itertools.count()
        # Close to real time (0.1 ms apart), so no event is older than the data.
        self.start = datetime.now(UTC) + timedelta(seconds=1)
        self.statuses: dict[str, int] = {}

    def next_request(self, client: int, n: int) -> Request:
        with self.lock:
            numbers = [next(self.counter) for _ in range(BATCH)]
        events = []
        for k in numbers:
            imsi, apn, imei = self.pool[k % len(self.pool)]
            kind = self.TYPES[(k // len(self.pool)) % len(self.TYPES)]
            event = {
                "id": f"bench-{uuid.uuid4().hex}",
                "type": kind,
                "imsi": imsi,
                "at": (self.start + timedelta(microseconds=100 * k)).isoformat(),
            }
            if kind == "session_start":
                event["apn"] = apn
            if kind in ("session_update", "session_end"):
                event["bytes_up"] = 1_000 + k % 50_000
                event["bytes_down"] = 10_000 + k % 500_000
            if imei:
                event["imei"] = imei
            # The serving network of docs/connectivity.md: one per device.
            device = k % len(self.pool)
            event["plmn"] = PLMNS[device % len(PLMNS)]
            event["rat"] = RATS[device % len(RATS)]
            events.append(event)
        body = json.dumps({"events": events}).encode()
        return Request("/api/v1/network/events", "POST", body, self.headers, weight=BATCH)

    def on_response(self, request: Request, status: int, body: bytes) -> int:
        if status != 200:
            return 0
        results = json.loads(body)["results"]
        with self.lock:
            for result in results:
                self.statuses[result["status"]] = self.statuses.get(result["status"], 0) + 1
        return len(results)


def measure_events(*, p: Picks, db_url: str, seconds: float) -> Row:
    from network.tokens import create_token

    row = Row(
        section="7 network API",
        name=f"network events, batches of {BATCH}, {POSTERS} posters",
        target=f">= {EVENTS_TARGET:,} events/s",
    )
    pool, last_id = _event_pool(p)
    snapshot = Snapshot("e.account_id = %s AND e.id <= %s", [p.account.pk, last_id])
    snapshot.take()
    record, token = create_token(f"bench-{uuid.uuid4().hex[:8]}")
    events = _Events(pool, token)
    try:
        with Gunicorn(database_url=db_url) as server:
            result = run_load(
                host="127.0.0.1",
                port=server.port,
                clients=POSTERS,
                duration=seconds,
                next_request=events.next_request,
                on_response=events.on_response,
            )
        _fill(row, result)
        row.value = f"{result.weight_per_second:,.0f} events/s"
        row.met = result.weight_per_second >= EVENTS_TARGET
        row.note = (
            f"{result.weight:,} events in {result.seconds:.1f} s; "
            + ", ".join(f"{n:,} {s}" for s, n in sorted(events.statuses.items()))
            + "; latency per batch"
        )
        row.extra["event_statuses"] = events.statuses
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {exc}"
    finally:
        snapshot.restore()
        snapshot.drop()
        record.delete()
    print(f"  {row.name:<44} {row.value} {row.error}", flush=True)
    return row


def _fill(row: Row, result: LoadResult) -> None:
    if result.latencies:
        row.portal = summarise(result.latencies)
    row.extra = {
        "requests": result.requests,
        "seconds": round(result.seconds, 2),
        "http_statuses": dict(result.statuses),
        "errors": result.errors[:5],
        "error_count": len(result.errors),
    }
    if result.errors and not result.requests:
        row.error = result.errors[0]


def measure_throughput(
    *, db_url: str, portal_urls: list[str], admin_urls: list[str], cookies: dict, seconds: float
) -> list[Row]:
    """10 clients, each cycling through the list pages of section 1."""
    rows = []
    with Gunicorn(database_url=db_url) as server:
        for name, urls, cookie in (
            ("portal", portal_urls, cookies["portal"]),
            ("stock admin", admin_urls, cookies["admin"]),
        ):
            row = Row(
                section="8 throughput",
                name=f"list pages under load: {name}",
                target=("(none; median <= 100 ms)" if name == "portal" else "(comparison)"),
            )
            headers = {"Cookie": f"sessionid={cookie}", "Host": "127.0.0.1"}
            with cpu.Meter(server.process.pid) as meter:
                result = run_load(
                    host="127.0.0.1",
                    port=server.port,
                    clients=THROUGHPUT_CLIENTS,
                    duration=seconds,
                    next_request=lambda client, n, u=urls, h=headers: Request(
                        u[(client + n) % len(u)], headers=h
                    ),
                )
            usage = meter.usage(result.requests)
            _fill(row, result)
            ok = result.statuses.get(200, 0)
            row.value = f"{result.per_second:.1f} req/s"
            row.note = (
                f"{THROUGHPUT_CLIENTS} clients, {result.seconds:.0f} s, {ok:,}/{result.requests:,} "
                f"answered 200, rotating over {len(urls)} list URLs; {usage.note()}"
            )
            row.extra.update(usage.as_dict())
            if ok != result.requests:
                row.error = f"non-200 answers: {dict(result.statuses)}"
            print(
                f"  {row.name:<44} {row.value} p95 {_p95(row)};"
                f" CPU allows {usage.ceiling():,.0f}/s {row.error}",
                flush=True,
            )
            rows.append(row)
    if len(rows) == 2 and rows[0].portal and rows[1].portal:
        rows[0].admin = rows[1].portal
    return rows


def _p95(row: Row) -> str:
    return f"{row.portal.p95_ms:.0f} ms" if row.portal else "—"
