"""Read replicas with a real streaming replica (portal/replicas.py): a primary
of the test's own, a replica made with ``pg_basebackup -R``, gunicorn with
``DATABASE_REPLICA_URLS``. pg_stat_statements on each server says where a query
ran.

- the customer API's reads and the endpoint list run on the replica, not on the
  primary;
- a token that just wrote reads its write at once (from the primary), on either
  of two gunicorn workers with no shared cache, although the replica's replay is
  paused, while another token may still see the replica;
- a replica whose replay stalls is skipped once it is REPLICA_MAX_LAG behind;
- a stopped replica costs no request: reads go to the primary, never a 5xx, and
  back to the replica when it returns."""

from __future__ import annotations

import time

import pytest

from tests.topology import processes
from tests.topology.cluster import Cluster, bindir
from tests.topology.processes import Client, wait_until

pytestmark = [
    pytest.mark.topology,
    pytest.mark.skipif(bindir() is None, reason="no PostgreSQL binaries (PG_BINDIR)"),
]

PASSWORD = "demo-portal-2026"


@pytest.fixture
def servers():
    primary = Cluster("primary")
    replica = None
    try:
        primary.init().start()
        primary.execute("CREATE DATABASE portal")
        primary.execute("CREATE EXTENSION pg_stat_statements", "portal")
        url = primary.url("portal")
        processes.manage(url, "migrate", "--noinput")
        processes.manage(url, "seed_demo", "--endpoints", "2000", "--password", PASSWORD)
        replica = primary.replica("replica")
        yield primary, replica
    finally:
        if replica:
            replica.destroy()
        primary.destroy()


def _endpoint_reads(cluster: Cluster) -> int:
    """Calls of SELECTs on the endpoint table since the last reset."""
    [(calls,)] = cluster.execute(
        """
        SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements
         WHERE query ILIKE 'SELECT%%' AND query LIKE '%%"inventory_endpoint"%%'
        """,
        "portal",
    )
    return calls


def _queries(cluster: Cluster) -> list[tuple]:
    return cluster.execute(
        "SELECT calls, left(query, 300) FROM pg_stat_statements WHERE query ILIKE 'SELECT%%'",
        "portal",
    )


def _reset(*clusters: Cluster) -> None:
    for cluster in clusters:
        cluster.execute("SELECT pg_stat_statements_reset()", "portal")


def _token(url: str, name: str) -> str:
    out = processes.manage(url, "create_api_token", "--account", "vantiq", "--role", "admin", name)
    return out.strip().splitlines()[-1]


def test_reads_go_to_the_replica_writes_are_read_back_and_a_lost_replica_costs_nothing(
    servers, tmp_path
):
    primary, replica = servers
    url = primary.url("portal")
    writer_token, reader_token = _token(url, "writer"), _token(url, "reader")
    web, base = processes.gunicorn(
        url,
        tmp_path / "gunicorn.log",
        # Two workers and no shared cache: a token's write must be read back
        # on whichever process serves its next request.
        workers=2,
        REDIS_URL="",
        DATABASE_REPLICA_URLS=replica.url("portal"),
        REPLICA_MAX_LAG="1",
        REPLICA_CHECK_SECONDS="0.5",
    )
    try:
        writer, reader = Client(base, writer_token), Client(base, reader_token)
        browser = Client(base)
        _reset(primary, replica)
        browser.sign_in("vantiq-operator", PASSWORD)
        # Signing in was a write: the session reads the primary for
        # REPLICA_MAX_LAG + 1 seconds.
        assert browser.get("/inventory/endpoints/").status == 200
        assert _endpoint_reads(primary) >= 1
        assert _endpoint_reads(replica) == 0
        time.sleep(2.1)

        # Reads: the API's list and detail, the portal's list page.
        _reset(primary, replica)
        listing = reader.get("/api/v1/endpoints?limit=20")
        assert listing.status == 200
        iccid = listing.json()["results"][0]["iccid"]
        assert reader.get(f"/api/v1/endpoints/{iccid}").status == 200
        assert browser.get("/inventory/endpoints/").status == 200
        assert _endpoint_reads(replica) >= 3, (_queries(replica), _queries(primary))
        assert _endpoint_reads(primary) == 0, _queries(primary)

        # Read-your-writes: the replica stops replaying; the writer still
        # reads its own change at once, which only the primary holds.
        replica.execute("SELECT pg_wal_replay_pause()")
        edited = writer.request("PATCH", f"/api/v1/endpoints/{iccid}", {"name": "fresh-name"})
        assert edited.status == 200, edited.text
        for _ in range(10):
            assert writer.get(f"/api/v1/endpoints/{iccid}").json()["name"] == "fresh-name"
        # Stalled beyond REPLICA_MAX_LAG (1 s): everyone reads the primary.
        wait_until(
            lambda: reader.get(f"/api/v1/endpoints/{iccid}").json()["name"] == "fresh-name",
            timeout=10,
            what="a lagging replica was not skipped",
        )
        replica.execute("SELECT pg_wal_replay_resume()")

        # The replica stops: reads go on from the primary, none fails.
        replica.stop("fast")
        statuses = []
        for _ in range(10):
            statuses.append(reader.get("/api/v1/endpoints?limit=20").status)
            statuses.append(browser.get("/inventory/endpoints/").status)
            time.sleep(0.1)
        assert set(statuses) == {200}, statuses
        # Back: reads return to it.
        replica.start()
        replica.wait_ready()
        _reset(replica)
        wait_until(
            lambda: (
                reader.get("/api/v1/endpoints?limit=20").status == 200
                and _endpoint_reads(replica) > 0
            ),
            # A fast-stopped replica replays and reconnects its WAL receiver
            # before it reports no lag; on a busy 2-core machine that took
            # more than 20 s once.
            timeout=60,
            what="reads did not return to the replica",
        )
        log = (tmp_path / "gunicorn.log").read_text()
        assert "Traceback" not in log, log[-3000:]
    finally:
        web.stop()
