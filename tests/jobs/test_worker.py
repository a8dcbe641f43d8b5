"""A real worker (``manage.py procrastinate worker`` in its own process, against
the test database) killed with SIGKILL in the middle of a job: a second worker
notices the first one's heartbeat has stopped, retries the job, and the job
ends with exact counts, as if nothing had happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.db import connection

from inventory.models import Endpoint, History, KeyValue, State
from jobs import services
from jobs.models import Action, Job, JobState
from tests.jobs.conftest import make_endpoints, slow_endpoint_updates

BASE_DIR = Path(__file__).resolve().parents[2]
ENDPOINTS = 10_000  # 100 chunks of 100 (tests/jobs/worker_settings.py)


def test_database_url() -> str:
    """The test database as a DATABASE_URL, for a process of its own (the
    embedded server's socket directory travels as ``?host=``, as it came)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    options = {key: db["OPTIONS"][key] for key in ("host", "port") if key in db["OPTIONS"]}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgresql://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}{query}"


test_database_url.__test__ = False  # a helper, not a test


class Worker:
    """``manage.py procrastinate worker`` in a process of its own: every queue,
    or with ``args`` (``jobs.workers.WORKERS``: queues and concurrency) as
    production's units run it (docs/production.md)."""

    def __init__(self, log: Path, *, args: list[str] | None = None, env: dict | None = None):
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.jobs.worker_settings",
            **(env or {}),
        }
        command = [sys.executable, "manage.py", "procrastinate", "worker", *(args or [])]
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def wait_for(condition, *, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    pytest.fail(f"{what} within {timeout:.0f} s; worker log:\n{log.read_text()[-3000:]}")


def job_row(job_id: int) -> Job:
    return Job.objects.get(pk=job_id)


def kill_worker_mid_job(
    job: Job, log, *, at: int = 500, total: int = ENDPOINTS, env: dict | None = None
) -> Job:
    """Run a real worker on ``job`` and SIGKILL it once ``at`` endpoints are
    done; the job as the kill left it (still running, part done)."""
    first = Worker(log, env=env)
    try:
        wait_for(
            lambda: job_row(job.pk).position >= at,
            timeout=60,
            what=f"the first worker did not get {at:,} endpoints in",
            log=log,
        )
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        first.stop()
    killed = job_row(job.pk)
    assert killed.state == JobState.RUNNING
    assert at <= killed.position < total, "the job ended before the kill"
    return killed


def finish_with_a_second_worker(job: Job, log, *, env: dict | None = None) -> Job:
    """Start another worker and wait until it has finished ``job``."""
    second = Worker(log, env=env)
    try:
        return wait_for(
            lambda: (j := job_row(job.pk)).finished and j,
            timeout=90,
            what="the second worker did not finish the job",
            log=log,
        )
    finally:
        second.stop()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_loses_nothing(account, group, operator, tmp_path):
    endpoints = make_endpoints(account=account, group=group, count=ENDPOINTS, state_sql="'active'")
    job = services.start(account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints)
    assert job.state == JobState.QUEUED
    log = tmp_path / "worker.log"
    killed = kill_worker_mid_job(job, log)
    assert killed.position % 100 == 0
    assert History.objects.filter(batch=job.batch).count() == killed.changed == killed.position
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == killed.changed

    done = finish_with_a_second_worker(job, log)

    assert done.state == JobState.SUCCEEDED, done.error
    assert (done.total, done.position, done.changed, done.skipped) == (
        ENDPOINTS,
        ENDPOINTS,
        ENDPOINTS,
        {},
    )
    assert done.attempts == 2
    history = History.objects.filter(batch=job.batch)
    assert history.count() == ENDPOINTS
    assert history.values("endpoint_id").distinct().count() == ENDPOINTS
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == ENDPOINTS
    assert "its worker stopped sending heartbeats" in log.read_text()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_set_key_value_job_loses_nothing(account, group, operator, tmp_path):
    endpoints = make_endpoints(account=account, group=group, count=ENDPOINTS, state_sql="'active'")
    job = services.start_set_key_value(
        account=account, user=operator, endpoints=endpoints, key="depot", value="hamburg"
    )
    assert job.state == JobState.QUEUED
    log = tmp_path / "worker.log"
    killed = kill_worker_mid_job(job, log)
    assert History.objects.filter(batch=job.batch).count() == killed.changed == killed.position
    assert KeyValue.objects.filter(key="depot", value="hamburg").count() == killed.changed

    done = finish_with_a_second_worker(job, log)

    assert done.state == JobState.SUCCEEDED, done.error
    assert (done.total, done.position, done.changed, done.skipped) == (
        ENDPOINTS,
        ENDPOINTS,
        ENDPOINTS,
        {},
    )
    assert History.objects.filter(batch=job.batch).values("endpoint_id").distinct().count() == (
        ENDPOINTS
    )
    assert KeyValue.objects.filter(key="depot", value="hamburg").count() == ENDPOINTS


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_its_chunks_are_cut_at_the_lock_budget_loses_nothing(
    account, group, operator, tmp_path
):
    """Chunks sized by their lock time under a budget of 150 ms, with a trigger
    that makes the rule sleep 0.5 ms for each endpoint it changes: the first
    chunk of 1,000 cannot fit and is undone and made smaller, and so are later
    ones (``jobs.chunk_budget``). The worker is killed half-way; a second one
    finishes the job, and every endpoint is changed once, with one History row."""
    total = 4_000
    endpoints = make_endpoints(account=account, group=group, count=total, state_sql="'active'")
    env = {"TEST_JOBS_CHUNK_SIZE": "0", "JOBS_CHUNK_BUDGET_MS": "150"}
    log = tmp_path / "worker.log"
    with slow_endpoint_updates(0.0005):
        job = services.start(
            account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints
        )
        killed = kill_worker_mid_job(job, log, at=1_000, total=total, env=env)
        assert History.objects.filter(batch=job.batch).count() == killed.changed
        assert killed.changed == killed.position
        done = finish_with_a_second_worker(job, log, env=env)

    assert done.state == JobState.SUCCEEDED, done.error
    assert (done.position, done.changed, done.skipped) == (total, total, {})
    assert done.cut_chunks >= 1
    history = History.objects.filter(batch=job.batch)
    assert history.count() == total
    assert history.values("endpoint_id").distinct().count() == total
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == total
