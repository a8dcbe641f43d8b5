"""Section 9: bulk suspend, terminate and assign of 100,000 endpoints as
background jobs, the way an operator does them: the real confirming POST of
"select all matching" (in-process client), a real worker process
(``manage.py procrastinate worker``) and gunicorn serving the network events
API, which the section-7 load generator keeps busy all along.

Per action: the time from the confirming POST to the job's ``succeeded``, the
longest chunk transaction (``Job.longest_chunk_ms``: lock to COMMIT), and the
p95 latency of an events batch while the job runs against the same load with no
job (idle, measured just before), and how many targets the job passed over
because an events batch held them (done by its later passes, docs/jobs.md
"Chunks and locks"). Each run is undone by SQL afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection

from bench.http_load import BATCH, POSTERS, _event_pool, _Events
from bench.loadgen import Request, run_load
from bench.measure import percentile
from bench.pages import Row
from bench.picks import Picks
from bench.server import Gunicorn, stop
from bench.snapshot import Snapshot
from inventory import lifecycle
from inventory.forms.bulk import TYPED_COUNT_ABOVE
from inventory.models import IN_SERVICE_STATES, Endpoint, Group
from jobs.models import Job
from jobs.services import INLINE_LIMIT
from tests.confirming import hidden_fields

BASE_DIR = Path(__file__).resolve().parent.parent
END_TO_END_TARGET_S = 10.0
CHUNK_TARGET_MS = 500
_IN_SERVICE = [str(s) for s in IN_SERVICE_STATES]


class Worker:
    """``with Worker(database_url=...):`` one job worker process of the bench
    database, stopped (SIGTERM) at the end."""

    def __init__(self, *, database_url: str, queues: str = "jobs"):
        self.database_url = database_url
        self.queues = queues
        self.log_path = BASE_DIR / "bench" / "results" / f"worker-{queues}.log.tmp"

    def __enter__(self) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--queues", self.queues],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def __exit__(self, *exc) -> None:
        stop(self.process)
        self._log.close()


class _TimedEvents(_Events):
    """Section 7's events, each batch's latency kept with the moment it ended."""

    def __init__(self, pool, token: str):
        super().__init__(pool, token)
        self.sent: dict[int, float] = {}
        self.done: list[tuple[float, float]] = []

    def next_request(self, client: int, n: int) -> Request:
        request = super().next_request(client, n)
        self.sent[threading.get_ident()] = time.perf_counter()
        return request

    def on_response(self, request: Request, status: int, body: bytes) -> int:
        ended = time.perf_counter()
        with self.lock:
            self.done.append((ended, ended - self.sent[threading.get_ident()]))
        return super().on_response(request, status, body)

    def p95_ms(self, start: float, end: float) -> float | None:
        window = [latency for at, latency in self.done if start <= at <= end]
        return percentile(window, 0.95) * 1000 if window else None


def _plans(p: Picks, size: int) -> list[tuple[str, str, dict, dict]]:
    """(name, bulk URL, list filter, extra POST fields) per action: the list
    filter (the in-service endpoints of a group, of a tag, or of both)
    whose count is closest to ``size``, as an operator narrows the list before
    "select all matching".
    Assign moves that selection to another group of the account."""
    # Network events move endpoints between the in-service states while the
    # section runs, so a filter on one of them would match a different set at
    # the confirming POST: all in-service ones, of a group, a tag, or both.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.primary_group_id, t.tag, GROUPING(e.primary_group_id) = 0,
                   GROUPING(t.tag) = 0, count(DISTINCT e.id)
              FROM {connection.ops.quote_name(Endpoint._meta.db_table)} e
              LEFT JOIN LATERAL unnest(e.tags) AS t(tag) ON true
             WHERE e.account_id = %(account)s AND e.state = ANY(%(states)s)
             GROUP BY GROUPING SETS ((e.primary_group_id), (e.primary_group_id, t.tag), (t.tag))
            """,
            {"account": p.account.pk, "states": _IN_SERVICE},
        )
        counts = cursor.fetchall()
    candidates = []
    for group_id, tag, by_group, by_tag, n in counts:
        if by_tag and tag is None:  # the untagged rows: no filter selects them
            continue
        filters = {"state": _IN_SERVICE}
        filters.update({"group": group_id} if by_group else {})
        filters.update({"tag": tag} if by_tag else {})
        candidates.append((filters, n))
    # Only selections big enough to be queued: the section is about the worker.
    candidates = [c for c in candidates if c[1] > INLINE_LIMIT] or candidates[:1]

    def closest(options):
        return min(options, key=lambda c: (abs(c[1] - size), str(c[0])))[0]

    filters = closest(candidates)
    # Assign moves endpoints of one group (none of them in the target already).
    moved = closest([c for c in candidates if "group" in c[0]] or candidates)
    target = (
        Group.objects.filter(account=p.account)
        .exclude(pk=moved.get("group", p.group.pk))
        .order_by("name")
        .first()
    )
    return [
        ("suspend", "/inventory/endpoints/bulk/suspend/", filters, {}),
        ("terminate", "/inventory/endpoints/bulk/terminate/", filters, {}),
        (f"assign to {target.name}", "/inventory/endpoints/bulk/assign/", moved,
         {"group": target.pk}),
    ]  # fmt: skip


def _typed_count(url: str, endpoints) -> dict:
    if "terminate" not in url:
        return {}
    preview = lifecycle.preview(action=lifecycle.TERMINATE, endpoints=endpoints)
    return (
        {"typed_count": str(preview.will_change)} if preview.will_change > TYPED_COUNT_ABOVE else {}
    )


def measure_jobs(
    *, p: Picks, db_url: str, seconds: float, size: int = 100_000, timeout: float = 600
) -> list[Row]:
    """One job per action on about ``size`` endpoints, twice: on a quiet
    server (the ≤ 10 s target), then with the events load on before (idle,
    ``seconds``) and during it (the chunk and events targets)."""
    from django.test import Client

    from network.tokens import create_token
    from portal.models import Member, Role

    operator = Client(raise_request_exception=False)
    operator.force_login(p.operator)
    # Terminating takes an account admin.
    admin = Client(raise_request_exception=False)
    admin.force_login(Member.objects.filter(account=p.account, role=Role.ADMIN).first().user)
    pool, last_id = _event_pool(p)
    record, token = create_token(f"bench-{uuid.uuid4().hex[:8]}")
    rows = []
    try:
        with Gunicorn(database_url=db_url) as server, Worker(database_url=db_url):
            for name, url, filters, extra in _plans(p, size):
                portal = admin if "terminate" in url else operator
                for loaded in (False, True):
                    rows.append(
                        _one(p, portal, server.port, pool, token, name, url, filters, extra,
                             seconds, timeout, last_id, loaded=loaded)
                    )  # fmt: skip
    finally:
        record.delete()
    return rows


def _one(p, portal, port, pool, token, name, url, filters, extra, seconds, timeout, last_id, *,
         loaded: bool):  # fmt: skip
    selected = Endpoint.objects.filter(account=p.account, state__in=filters["state"])
    if "group" in filters:
        selected = selected.filter(primary_group_id=filters["group"])
    if "tag" in filters:
        selected = selected.filter(tags__contains=[filters["tag"]])
    n = selected.count()
    row = Row(
        section="9 jobs",
        name=f"job: {name} ({n:,}), {'events load' if loaded else 'quiet'}, POST → succeeded",
        target=(
            f"chunk <= {CHUNK_TARGET_MS} ms; events p95 <= 2x idle"
            if loaded
            else f"<= {END_TO_END_TARGET_S:.0f} s; chunk <= {CHUNK_TARGET_MS} ms"
        ),
    )
    snapshot = Snapshot(
        "e.account_id = %s AND (e.id <= %s OR e.state = ANY(%s))",
        [p.account.pk, last_id, filters["state"]],
    )
    snapshot.take()
    events = _TimedEvents(pool, token)
    load_for = seconds + timeout
    stop = threading.Event()
    result = {}

    def load() -> None:
        result["load"] = run_load(
            host="127.0.0.1",
            port=port,
            clients=POSTERS,
            duration=load_for,
            next_request=events.next_request,
            on_response=events.on_response,
            stop=stop,
        )

    loader = threading.Thread(target=load, daemon=True)
    try:
        started_load = time.perf_counter()
        if loaded:
            loader.start()
            time.sleep(seconds)
        idle_end = time.perf_counter()
        # The confirmation page first, as the operator sees it: its form carries
        # the signed confirmation of what it showed; then its own POST, timed.
        page = portal.post(
            url, {"select_all": "1", "filter": urlencode(filters, doseq=True), **extra}
        )
        data = {**hidden_fields(page), **extra, **_typed_count(url, selected)}
        posted = time.perf_counter()
        response = portal.post(url, data)
        job = Job.objects.filter(account=p.account).order_by("-pk").first()
        if (
            response.status_code != 302
            or job is None
            or response["Location"] != job.get_absolute_url()
        ):
            raise RuntimeError(f"the confirming POST answered {response.status_code}, no job page")
        while not job.finished and time.perf_counter() - posted < timeout:
            time.sleep(0.05)
            job.refresh_from_db()
        ended = time.perf_counter()
        if not job.finished:
            raise RuntimeError(f"job {job.pk} not finished after {timeout:.0f} s (worker log?)")
        stop.set()
        if loaded:
            loader.join(timeout=120)
        idle = events.p95_ms(started_load + 1, idle_end)
        during = events.p95_ms(posted, ended)
        took = ended - posted
        row.value = (
            f"{took:.1f} s, {job.changed:,} changed, longest chunk {job.longest_chunk_ms} ms, "
            + (f"events p95 {during or 0:.0f} ms (idle {idle or 0:.0f} ms), " if loaded else "")
            + f"{job.passed_over:,} passed over (held), {job.later_passes} later pass(es), "
            + f"{job.cut_chunks} chunk(s) cut at the lock budget"
        )
        row.met = (
            job.state == "succeeded"
            and job.longest_chunk_ms <= CHUNK_TARGET_MS
            and (
                bool(idle and during and during <= 2 * idle)
                if loaded
                else took <= END_TO_END_TARGET_S
            )
        )
        row.note = f"{job.state}; {job.attempts} attempt(s); " + (
            f"events batches of {BATCH}, {POSTERS} posters" if loaded else "no other load"
        )
        row.extra = {
            "seconds": round(took, 3),
            "state": job.state,
            "changed": job.changed,
            "skipped": job.skipped,
            "longest_chunk_ms": job.longest_chunk_ms,
            "passed_over": job.passed_over,
            "later_passes": job.later_passes,
            "cut_chunks": job.cut_chunks,
            "events_p95_ms_idle": idle and round(idle, 1),
            "events_p95_ms_during": during and round(during, 1),
        }
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {exc}"
    finally:
        stop.set()
        if loader.is_alive():
            loader.join(timeout=120)
        snapshot.restore()
        snapshot.drop()
        Job.objects.filter(account=p.account).delete()
    print(f"  {row.name:<52} {row.value} {row.error}", flush=True)
    return row
