"""Our jobs agree with Procrastinate's queue (docs/jobs.md).

A job queued for a worker has its Procrastinate job (``Job.queue_job_id``).
Staff can end that one with Procrastinate's own tools — the ``procrastinate``
command, its Django admin, ``job_manager.cancel_job_by_id(…, abort=True)`` — or
delete it, and then no worker will ever finish ours: it would stay "queued" or
"running" on the Jobs page for good. ``reconcile`` finds such jobs in one query
(ours not finished, theirs cancelled, aborted, failed or gone) and ends each
with the reason, through ``runner.finish`` so the account's ``job.finished``
event is written too. The worker runs it every minute.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from jobs import runner
from jobs.models import Job, JobState

logger = logging.getLogger("jobs")

#: Procrastinate's final state of the queue entry → ours, and why.
OUTCOMES = {
    "cancelled": (JobState.CANCELLED, "Cancelled in the task queue before it ran."),
    "aborted": (JobState.CANCELLED, "Aborted in the task queue; what ran stays done."),
    "failed": (JobState.FAILED, "Its task failed in the task queue; what ran stays done."),
    None: (JobState.FAILED, "Its task-queue entry was deleted; what ran stays done."),
}

_FIND = """
    SELECT job.id, queued.status
      FROM {jobs} AS job
      LEFT JOIN procrastinate_jobs AS queued ON queued.id = job.queue_job_id
     WHERE job.state IN (%(queued)s, %(running)s)
       AND job.queue_job_id IS NOT NULL
       AND (queued.id IS NULL OR queued.status IN ('cancelled', 'aborted', 'failed'))
     ORDER BY job.id
"""


def stranded() -> list[tuple[int, str | None]]:
    """(job id, the queue entry's status or None when gone) of every job of ours
    that no worker will finish."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FIND.format(jobs=connection.ops.quote_name(Job._meta.db_table)),
            {"queued": JobState.QUEUED, "running": JobState.RUNNING},
        )
        return [(job_id, status) for job_id, status in cursor.fetchall()]


def end(job_id: int, status: str | None) -> bool:
    """End job ``job_id`` as its queue entry ended; False if it had ended meanwhile."""
    state, reason = OUTCOMES[status]
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.finished:
            return False
        runner.finish(job, state, reason)
        job.save(update_fields=["state", "finished_at", "error"])
    logger.warning("job %s %s: %s", job_id, state, reason)
    return True


def reconcile() -> int:
    """End every stranded job; how many were."""
    return sum(end(job_id, status) for job_id, status in stranded())
