"""The worker's tasks (``manage.py procrastinate worker``): running a queued job,
retrying the jobs of workers that died, ending the jobs whose queue entry was
ended with Procrastinate's own tools, and the daily purges.

A job's task is retried on any error, up to ``RETRY.max_attempts`` times, and
every retry resumes after the job's last committed chunk (``jobs.runner``).
A worker stopped by a signal asks the job to stop after its chunk and hands it
back to the queue. A worker killed outright (kill -9, a lost machine) stops
sending its heartbeat; ``retry_stalled_jobs`` finds its jobs and puts them back.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from procrastinate import RetryStrategy, exceptions
from procrastinate.contrib.django import app
from procrastinate.job_context import AbortReason

from inventory import retention as purge
from jobs import reconcile, runner

logger = logging.getLogger("jobs")

RETRY = RetryStrategy(max_attempts=10, wait=5)

#: A worker whose heartbeat is older than this is taken for dead (the worker's
#: own ``stalled_worker_timeout``, 30 s unless the settings say otherwise).
STALLED_AFTER = settings.PROCRASTINATE_WORKER_DEFAULTS.get("stalled_worker_timeout", 30.0)


@app.task(name="jobs.run_job", queue="jobs", pass_context=True, retry=RETRY)
def run_job(context, job_id: int) -> None:
    """Run (or resume) job ``job_id`` to its end."""

    def stop_if_asked(job) -> None:
        reason = context.abort_reason()
        if reason is None:
            return
        if reason == AbortReason.SHUTDOWN:
            logger.info("job %s stops after chunk at %s: worker stopping", job.pk, job.position)
        else:
            # Aborted with Procrastinate's tools: never retried, so ours ends here.
            reconcile.end(job.pk, "aborted")
        raise exceptions.JobAborted

    try:
        runner.run(job_id, after_chunk=stop_if_asked)
    except exceptions.JobAborted:
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if context.job.attempts >= RETRY.max_attempts:
            runner.fail(job_id, f"{error} (gave up after {context.job.attempts + 1} attempts)")
        else:
            runner.note_error(job_id, f"{error} (will be retried)")
        raise


@app.periodic(cron=getattr(settings, "JOBS_STALLED_CHECK_CRON", "* * * * *"))
@app.task(name="jobs.retry_stalled_jobs", queue="maintenance", queueing_lock="retry_stalled")
async def retry_stalled_jobs(timestamp: int) -> None:
    """Put the jobs of workers without a heartbeat back on the queue."""
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
        logger.warning("retrying %s: its worker stopped sending heartbeats", job.call_string)
        await app.job_manager.retry_job(job)


@app.periodic(cron=getattr(settings, "JOBS_STALLED_CHECK_CRON", "* * * * *"))
@app.task(name="jobs.reconcile_with_queue", queue="maintenance", queueing_lock="reconcile")
def reconcile_with_queue(timestamp: int) -> None:
    """End our jobs whose queue entry was cancelled, aborted, failed or deleted
    with Procrastinate's own tools (jobs/reconcile.py)."""
    ended = reconcile.reconcile()
    if ended:
        logger.warning("reconcile_with_queue: %s jobs ended", ended)


@app.periodic(cron="17 3 * * *")
@app.task(name="inventory.purge_terminated", queue="maintenance", queueing_lock="purge_ended")
def purge_terminated(timestamp: int) -> None:
    """Daily: endpoints terminated more than 90 days ago (as ``manage.py
    purge_terminated``)."""
    result = purge.purge_terminated()
    logger.info("purge_terminated: %s endpoints deleted", result.endpoints)


@app.periodic(cron="27 3 * * *")
@app.task(
    name="inventory.purge_activation_failures",
    queue="maintenance",
    queueing_lock="purge_activation",
)
def purge_activation_failures(timestamp: int) -> None:
    """Daily: refused activations and ended blocks older than 30 days (as
    ``manage.py purge_activation_failures``)."""
    cutoff = timezone.now() - timedelta(days=purge.ACTIVATION_RETENTION_DAYS)
    counts = purge.purge_activation_failures(cutoff=cutoff)
    logger.info("purge_activation_failures: %s", counts)


@app.periodic(cron="37 3 * * *")
@app.task(name="inventory.purge_network_events", queue="maintenance", queueing_lock="purge_events")
def purge_network_events(timestamp: int) -> None:
    """Daily: network events and session teardowns older than 30 days (as
    ``manage.py purge_network_events``)."""
    cutoff = timezone.now() - timedelta(days=purge.EVENT_RETENTION_DAYS)
    counts = purge.purge_network_events(cutoff=cutoff)
    logger.info("purge_network_events: %s", counts)
