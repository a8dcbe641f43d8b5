"""More than one machine, on this one (docs/operations.md "More than one
machine"): a primary of the test's own, a streaming replica (pg_basebackup),
PgBouncer in transaction mode in front of the primary, two gunicorns (web and
API through PgBouncer, reads from the replica) and two workers (``manage.py
worker``: ORM through PgBouncer, LISTEN direct through WORKER_DATABASE_URL).

A bulk suspend runs while the packet core posts network events and a customer
reads the endpoint list; half-way, one gunicorn and one worker are killed with
SIGKILL and the replica is stopped for three seconds. Clients that lose their
gunicorn go on with the other (as a load balancer would) and resend what got no
answer. Afterwards: the job is exact (each target suspended once, one History
row each), every network event that was answered is stored once, every list
read was answered 200, and list reads ran on the replica while it was up.

TOPOLOGY_ENDPOINTS sets the fleet (default 40,000: the job suspends the active
endpoints of the larger account, about a third of them, in chunks of
TEST_JOBS_CHUNK_SIZE=2,000)."""

from __future__ import annotations

import itertools
import os
import threading
import time
import urllib.error
from datetime import UTC, datetime

import pytest

from tests.topology import processes
from tests.topology.cluster import Cluster, PgBouncer, bindir
from tests.topology.processes import Client, wait_until

pytestmark = [
    pytest.mark.topology,
    pytest.mark.skipif(bindir() is None, reason="no PostgreSQL binaries (PG_BINDIR)"),
    pytest.mark.skipif(
        not PgBouncer.available(), reason="no pgbouncer (apt-get install pgbouncer)"
    ),
]

PASSWORD = "demo-portal-2026"
ENDPOINTS = int(os.environ.get("TOPOLOGY_ENDPOINTS", "40000"))


class Failover:
    """The clients' load balancer: the gunicorns in order; one that refuses or
    resets the connection is dropped and the request resent to the next."""

    def __init__(self, bases: list[str]):
        self.bases = list(bases)
        self.lock = threading.Lock()
        self.failovers = 0

    def call(self, token: str, method: str, path: str, body=None):
        while True:
            with self.lock:
                base = self.bases[0]
            try:
                return Client(base, token).request(method, path, body)
            except (urllib.error.URLError, ConnectionError, OSError):
                with self.lock:
                    if self.bases[0] == base and len(self.bases) > 1:
                        self.bases.pop(0)
                        self.failovers += 1
                time.sleep(0.05)


class Load(threading.Thread):
    """Runs ``step`` until stopped; ``step`` records what it saw."""

    def __init__(self, step):
        super().__init__(daemon=True)
        self.step = step
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []

    def run(self):
        while not self.stopping.is_set():
            try:
                self.step()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)
                return
            time.sleep(0.05)


@pytest.fixture
def topology(tmp_path):
    primary = Cluster("primary")
    started = []
    try:
        primary.init(max_connections="150").start()
        primary.execute("CREATE DATABASE portal")
        primary.execute("CREATE EXTENSION pg_stat_statements", "portal")
        url = primary.url("portal")
        processes.manage(url, "migrate", "--noinput")
        processes.manage(url, "seed_demo", "--endpoints", str(ENDPOINTS), "--password", PASSWORD)
        replica = primary.replica("replica")
        started.append(replica)
        bouncer = PgBouncer(primary, "portal", pool_size=20)
        bouncer.start()
        started.append(bouncer)
        yield primary, replica, bouncer
    finally:
        for part in reversed(started):
            part.stop() if isinstance(part, PgBouncer) else part.destroy()
        primary.destroy()


def _endpoint_reads(cluster: Cluster) -> int:
    [(calls,)] = cluster.execute(
        """
        SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements
         WHERE query ILIKE 'SELECT%%' AND query LIKE '%%"inventory_endpoint"%%'
        """,
        "portal",
    )
    return calls


def test_two_webs_two_workers_pgbouncer_and_a_replica_lose_nothing(topology, tmp_path):
    primary, replica, bouncer = topology
    direct = primary.url("portal")
    api_token = (
        processes.manage(
            direct, "create_api_token", "--account", "vantiq", "--role", "admin", "topology"
        )
        .strip()
        .splitlines()[-1]
    )
    network_token = (
        processes.manage(direct, "create_network_token", "core").strip().splitlines()[-1]
    )
    imsis = [
        imsi
        for (imsi,) in primary.execute(
            """
            SELECT i.imsi FROM inventory_imsi i
              JOIN inventory_endpoint e ON e.id = i.endpoint_id
              JOIN portal_account a ON a.id = e.account_id AND a.slug = 'northwind'
             ORDER BY i.imsi LIMIT 400
            """,
            "portal",
        )
    ]
    pooled = {
        "DATABASE_POOL_MODE": "transaction",
        "DATABASE_REPLICA_URLS": replica.url("portal"),
        "TEST_JOBS_CHUNK_SIZE": "2000",
    }
    webs = [
        processes.gunicorn(bouncer.url(), tmp_path / f"gunicorn-{n}.log", workers=2, **pooled)
        for n in (1, 2)
    ]
    workers = [
        processes.worker(
            bouncer.url(), tmp_path / f"worker-{n}.log", WORKER_DATABASE_URL=direct, **pooled
        )
        for n in (1, 2)
    ]
    balancer = Failover([base for _, base in webs])
    try:
        replica.execute("SELECT pg_stat_statements_reset()", "portal")
        started = balancer.call(
            api_token, "POST", "/api/v1/bulk/suspend", {"filter": {"state": ["active"]}}
        )
        assert started.status == 202, started.text
        job_id, total = started.json()["id"], started.json()["total"]
        started_at = time.monotonic()

        answered: dict[str, str] = {}
        numbers = itertools.count()

        def post_events():
            batch = []
            for imsi in imsis[:50]:
                batch.append(
                    {
                        "id": f"topology-{next(numbers)}",
                        "type": "attach",
                        "imsi": imsi,
                        "at": datetime.now(UTC).isoformat(),
                    }
                )
            answer = balancer.call(
                network_token, "POST", "/api/v1/network/events", {"events": batch}
            )
            assert answer.status == 200, (answer.status, answer.text[:300])
            for result in answer.json()["results"]:
                answered[result["id"]] = result["status"]

        list_statuses: list[int] = []

        def read_list():
            answer = balancer.call(api_token, "GET", "/api/v1/endpoints?limit=50&state=active")
            list_statuses.append(answer.status)

        loads = [Load(post_events), Load(read_list)]
        for load in loads:
            load.start()

        def job() -> dict:
            # The token just wrote (it started the job): read from the primary
            # on either gunicorn and either of its workers, never a 404.
            answer = balancer.call(api_token, "GET", f"/api/v1/jobs/{job_id}")
            assert answer.status == 200, (answer.status, answer.text[:300])
            return answer.json()

        wait_until(lambda: job()["done"] > 0, timeout=120, what="the job did not start")

        # Half-way: one gunicorn and one worker die, the replica goes away.
        webs[0][0].kill()
        workers[0].kill()
        assert job()["state"] == "running"
        replica.stop("fast")
        time.sleep(3)
        replica.start()

        done = wait_until(
            lambda: (j := job())["state"] in {"succeeded", "failed"} and j,
            timeout=300,
            what="the job did not finish",
        )
        done_at = time.monotonic()
        time.sleep(2)  # reads on the replica again, events still flowing
        for load in loads:
            load.stopping.set()
        for load in loads:
            load.join(timeout=60)
            assert not load.errors, load.errors

        print(
            f"\ntopology: {ENDPOINTS:,} endpoints, job of {total:,} in "
            f"{(done_at - started_at):.1f} s, {len(answered):,} network events, "
            f"{len(list_statuses):,} list reads ({_endpoint_reads(replica):,} endpoint "
            f"queries on the replica), {balancer.failovers} failover(s)"
        )
        assert done["state"] == "succeeded", done
        assert done["done"] == total
        [(rows, distinct)] = primary.execute(
            """
            SELECT count(*), count(DISTINCT h.endpoint_id) FROM inventory_history h
              JOIN jobs_job j ON j.batch = h.batch WHERE j.id = %(job)s
            """,
            "portal",
            {"job": job_id},
        )
        assert rows == distinct == done["changed"]
        [(suspended,)] = primary.execute(
            """
            SELECT count(*) FROM inventory_endpoint e
              JOIN jobs_jobtarget t ON t.endpoint_id = e.id AND t.job_id = %(job)s
             WHERE e.state = 'suspended'
            """,
            "portal",
            {"job": job_id},
        )
        assert suspended == total

        # Every answered event is stored once (a resent batch answers "duplicate").
        stored = dict(
            primary.execute(
                "SELECT event_id, count(*) FROM inventory_networkevent"
                " WHERE event_id LIKE 'topology-%%' GROUP BY event_id",
                "portal",
            )
        )
        assert answered and set(answered.values()) <= {"accepted", "rejected", "duplicate"}
        assert set(stored.values()) == {1}
        applied = {i for i, status in answered.items() if status in {"accepted", "duplicate"}}
        assert applied <= set(stored)

        assert list_statuses and set(list_statuses) == {200}, list_statuses
        assert balancer.failovers >= 1
        assert _endpoint_reads(replica) > 0
        # Web and API went through PgBouncer.
        pools = {row[0]: row for row in bouncer.show("STATS")}
        assert pools["portal"][1] > 0  # total_xact_count
        assert workers[1].alive() and webs[1][0].alive()
        for log in tmp_path.glob("gunicorn-*.log"):
            assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    finally:
        for web, _ in webs:
            web.stop()
        for worker in workers:
            worker.stop()
