"""A job ended with Procrastinate's own tools (its ``cancel_job_by_id``, which
the ``procrastinate`` command and its admin call; a deleted queue entry; an
abort while a real worker runs it) does not stay "queued" or "running" on our
Jobs page: it ends cancelled or failed, with the reason."""

from __future__ import annotations

import pytest
from django.db import connection
from procrastinate.contrib.django import app

from inventory.models import Endpoint, State
from jobs import reconcile, services, tasks
from jobs.models import Action, Job, JobState
from tests.jobs.conftest import make_endpoints
from tests.jobs.test_worker import ENDPOINTS, Worker, job_row, wait_for


def queued_job(account, operator) -> Job:
    job = Job.objects.create(
        account=account, created_by=operator, action=Action.SUSPEND, state=JobState.QUEUED
    )
    job.queue_job_id = tasks.run_job.defer(job_id=job.pk)
    job.save(update_fields=["queue_job_id"])
    return job


def queue_status(job: Job) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", [job.queue_job_id])
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.mark.django_db
def test_a_job_cancelled_in_the_queue_is_cancelled_here(account, operator):
    job = queued_job(account, operator)
    live = queued_job(account, operator)
    inline = Job.objects.create(
        account=account, created_by=operator, action=Action.SUSPEND, state=JobState.RUNNING
    )
    assert app.job_manager.cancel_job_by_id(job.queue_job_id)
    assert queue_status(job) == "cancelled"

    tasks.reconcile_with_queue(timestamp=0)

    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.finished_at
    assert job.error == "Cancelled in the task queue before it ran."
    assert job_row(live.pk).state == JobState.QUEUED  # its entry is still to do
    assert job_row(inline.pk).state == JobState.RUNNING  # run in a request: no entry
    assert reconcile.reconcile() == 0  # once


@pytest.mark.django_db
def test_a_job_whose_queue_entry_was_deleted_fails_with_the_reason(account, operator):
    job = queued_job(account, operator)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs WHERE id = %s", [job.queue_job_id])

    tasks.reconcile_with_queue(timestamp=0)

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error == "Its task-queue entry was deleted; what ran stays done."


def test_the_reconcile_runs_every_minute():
    crons = {pt.task.name: pt.cron for pt in app.periodic_registry.periodic_tasks.values()}
    assert crons["jobs.reconcile_with_queue"] == "* * * * *"


@pytest.mark.django_db(transaction=True)
def test_a_job_aborted_in_the_queue_while_a_worker_runs_it_ends_cancelled(
    account, group, operator, tmp_path
):
    endpoints = make_endpoints(account=account, group=group, count=ENDPOINTS, state_sql="'active'")
    job = services.start(account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints)
    log = tmp_path / "worker.log"
    worker = Worker(log)
    try:
        wait_for(
            lambda: job_row(job.pk).position >= 300,
            timeout=60,
            what="the worker did not get 300 endpoints in",
            log=log,
        )
        assert app.job_manager.cancel_job_by_id(job.queue_job_id, abort=True)
        ended = wait_for(
            lambda: (j := job_row(job.pk)).finished and j,
            timeout=30,
            what="the aborted job did not end",
            log=log,
        )
        wait_for(
            lambda: queue_status(job) == "aborted",
            timeout=30,
            what="Procrastinate did not mark its job aborted",
            log=log,
        )
    finally:
        worker.stop()

    assert ended.state == JobState.CANCELLED
    assert ended.error == "Aborted in the task queue; what ran stays done."
    assert 300 <= ended.position < ENDPOINTS
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == ended.changed
