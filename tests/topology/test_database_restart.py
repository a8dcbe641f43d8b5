"""The database restarts under load (docs/operations.md "When the database goes
away"): a PostgreSQL of the test's own, a bulk suspend running in a real worker
(``manage.py worker``), a webhook registered to a local receiver, real gunicorn
serving the portal, the customer API and the network API. The postmaster is
stopped with ``pg_ctl -m immediate`` half-way through the job and started again
three seconds later.

While it is away every answer is a 503 (the portal's page, a problem document,
the network API's JSON), with Retry-After, never a 500, and gunicorn logs one
WARNING line per request and no traceback. Afterwards the same gunicorn serves
again without a restart, the worker command is still running (it started a new
worker), the job ends exactly (each target suspended once, one History row each)
and every account event reaches the receiver."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.topology import processes
from tests.topology.cluster import Cluster, bindir
from tests.topology.processes import Client, wait_until
from tests.webhooks.receiver import Receiver

pytestmark = [
    pytest.mark.topology,
    pytest.mark.skipif(bindir() is None, reason="no PostgreSQL binaries (PG_BINDIR)"),
]

PASSWORD = "demo-portal-2026"
ENDPOINTS = 8000


@pytest.fixture
def primary():
    cluster = Cluster("restart")
    try:
        cluster.init().start()
        cluster.execute("CREATE DATABASE portal")
        yield cluster
    finally:
        cluster.destroy()


def _job(api: Client, job_id: int) -> dict:
    return api.get(f"/api/v1/jobs/{job_id}").json()


def test_database_restart_mid_job_gives_503s_and_loses_nothing(primary, tmp_path):
    url = primary.url("portal")
    processes.manage(url, "migrate", "--noinput")
    processes.manage(url, "seed_demo", "--endpoints", str(ENDPOINTS), "--password", PASSWORD)
    api_token = (
        processes.manage(
            url, "create_api_token", "--account", "vantiq", "--role", "admin", "restart-test"
        )
        .strip()
        .splitlines()[-1]
    )
    network_token = processes.manage(url, "create_network_token", "core").strip().splitlines()[-1]

    receiver = Receiver().start()
    metrics_dir = tmp_path / "metrics"
    web, base = processes.gunicorn(
        url, tmp_path / "gunicorn.log", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    worker = processes.worker(url, tmp_path / "worker.log")
    try:
        api = Client(base, api_token)
        created = api.post(
            "/api/v1/webhooks",
            {"url": receiver.url, "event_types": ["endpoint.state_changed", "job.finished"]},
        )
        assert created.status == 201, created.text
        receiver.secret = created.json()["secret"]
        browser = Client(base)
        browser.sign_in("vantiq-admin", PASSWORD)
        assert browser.get("/inventory/endpoints/").status == 200
        network = Client(base, network_token)
        probe = Client(base)

        started = api.post("/api/v1/bulk/suspend", {"filter": {"state": ["active"]}})
        assert started.status == 202, started.text
        job_id = started.json()["id"]
        total = started.json()["total"]
        at_stop = wait_until(
            lambda: (job := _job(api, job_id))["done"] > 0 and job,
            timeout=60,
            what="the worker did not start the job",
            interval=0.05,
        )
        primary.stop("immediate")
        assert at_stop["done"] < total and at_stop["state"] == "running", at_stop

        statuses: list[tuple[str, int]] = []
        down_until = time.monotonic() + 3
        while time.monotonic() < down_until:
            page = browser.get("/inventory/endpoints/")
            listing = api.get("/api/v1/endpoints?limit=10")
            events = network.post(
                "/api/v1/network/events",
                {"events": [{"id": str(uuid.uuid4()), "type": "session_start", "imsi": "1"}]},
            )
            statuses += [("page", page.status), ("api", listing.status), ("net", events.status)]
            assert page.status == 503, page.text[:300]
            assert "Try again in a moment" in page.text
            assert page.headers["Retry-After"] == "5"
            assert listing.status == 503
            assert listing.headers["Content-Type"] == "application/problem+json"
            assert listing.headers["Retry-After"] == "5"
            assert listing.json()["type"].endswith("/unavailable")
            assert events.status == 503
            assert events.headers["Retry-After"] == "5"
            assert "error" in events.json()
            # The load balancer's probes (no session cookie).
            assert probe.get("/readyz").status == 503
            assert probe.get("/healthz").status == 200
            time.sleep(0.2)
        primary.start()

        assert statuses and all(status == 503 for _, status in statuses)
        # The same gunicorn answers again without a restart.
        wait_until(
            lambda: browser.get("/inventory/endpoints/").status == 200,
            timeout=30,
            what="the portal did not recover",
        )
        assert api.get("/api/v1/endpoints?limit=10").status == 200
        assert probe.get("/readyz").status == 200
        assert web.alive()

        done = wait_until(
            lambda: (job := _job(api, job_id))["state"] in {"succeeded", "failed"} and job,
            timeout=180,
            what="the job did not finish after the restart",
        )
        assert done["state"] == "succeeded", done
        assert done["done"] == total
        assert worker.alive(), "the worker command exited"

        # Each target suspended once: one History row per target of this job.
        [(rows, distinct, targets)] = primary.execute(
            """
            SELECT count(h.*), count(DISTINCT h.endpoint_id),
                   (SELECT count(*) FROM jobs_jobtarget WHERE job_id = %(job)s)
              FROM inventory_history h
              JOIN jobs_job j ON j.batch = h.batch
             WHERE j.id = %(job)s
            """,
            "portal",
            {"job": job_id},
        )
        assert targets == total
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

        # Every account event of the webhook's types reaches the receiver.
        [(expected,)] = primary.execute(
            """
            SELECT count(*) FROM webhooks_accountevent e
              JOIN portal_account a ON a.id = e.account_id AND a.slug = 'vantiq'
             WHERE e.type IN ('endpoint.state_changed', 'job.finished')
            """,
            "portal",
        )
        assert expected >= done["changed"] + 1
        wait_until(
            lambda: len(set(receiver.ids())) >= expected,
            timeout=120,
            what="not every event was delivered",
        )
        assert len(set(receiver.ids())) == expected
        assert receiver.bad_signatures == 0

        log = (tmp_path / "gunicorn.log").read_text()
        assert "Traceback" not in log, log[-3000:]
        warnings = [line for line in log.splitlines() if "db=unavailable" in line]
        assert len(warnings) == len(statuses)
        assert all(" WARNING " in line for line in warnings)
        assert "status=500" not in log
        assert "starting a new one" in (tmp_path / "worker.log").read_text()

        # /metrics adds up both gunicorn workers' counters (PROMETHEUS_MULTIPROC_DIR).
        scraped = probe.get("/metrics").text
        assert "portal_database_up 1.0" in scraped
        counted = re.search(r"^portal_database_unavailable_total (\S+)$", scraped, re.M)
        assert counted, scraped[:2000]
        assert float(counted.group(1)) == len(warnings), (counted.group(0), len(warnings))
    finally:
        web.stop()
        worker.stop()
        receiver.stop()
