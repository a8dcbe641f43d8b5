"""Running a job chunk by chunk, the same way inline (in the request) and in a
worker.

Each chunk is ONE transaction that
1. locks the job row (``SELECT … FOR UPDATE``) and stops if cancel was asked,
2. takes the row locks of the endpoints at positions [position, position +
   size) that no other transaction holds, and marks the others waiting
   (``jobs.locking``: a chunk never waits for a network event batch),
3. acts on the endpoints it holds through the rule the portal uses
   (``inventory.lifecycle`` on ``Endpoint.objects.filter(account=job.account,
   id__in=<held ids>)``, ``inventory.key_values.set_key_value`` for a key
   value, or ``inventory.sim_import.write_rows`` for an import), with the
   job's batch,
4. adds the chunk's changed / skipped / waiting to the job and advances its
   position,
and commits all of it together. Once the position reaches the end, further
chunks are later passes over the waiting targets, until none is left. So
whatever kills the process, the job row says exactly what is committed, and a
runner started on it again (Procrastinate's retry) resumes after the last
committed chunk: nothing is lost, nothing is done or counted twice. Two runners
on the same job (a worker thought dead that was not) take turns on the job row,
each chunk starting where the other stopped.

Chunk size: a chunk holds its endpoints' row locks until it commits, and the
network API's writes for those endpoints wait that long. Measured on this
machine kind (2 cores shared with other work, PostgreSQL 15, 100,000 in-service
endpoints of one account, two runs each; a chunk timed from its first
statement to after COMMIT; median and longest chunk, then the whole job):

    chunk     suspend                terminate              assign
    2,000     93 / 123 ms    4.7 s   92 / 107 ms    4.7 s   99 / 233 ms    5.3 s
    5,000     215 / 316 ms   4.5 s   221 / 265 ms   4.5 s   246 / 263 ms   5.0 s
    10,000    418 / 475 ms   4.3 s   458 / 506 ms   4.6 s   486 / 542 ms   6.3 s

(one run of 5,000 met a busy moment: longest 950 ms, job 6.2 s). The whole job
costs about the same at any of these sizes (the per-chunk work, job row,
classification and commit, is small), so the size is set by the locks.

No constant size keeps them under 0.5 s everywhere: at a million endpoints a
chunk of 5,000 costs ~0.4 s alone and 2-4.5 s while the network API keeps both
cores busy (docs/benchmark.md, section 9). So each chunk is sized from the
lock time the chunk before it measured (``next_size``): the first is small
(``FIRST_CHUNK``), and each next one is scaled toward ``TARGET_MS``, half the
budget, growing at most twice per chunk and shrinking at once, within
[``MIN_CHUNK``, ``MAX_CHUNK``]. A quiet machine grows to a few thousand rows a
chunk in a few chunks; a busy one shrinks them. A guess can still be far off,
so a chunk's statements also run under a lock budget (``jobs.chunk_budget``):
one that would pass it is rolled back and made again at half the size.
``JOBS_CHUNK_SIZE`` in the settings (or ``size``) fixes the size instead, for
tests that need many chunks; such chunks, and inline ones, have no budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from events import outbox
from events.models import EventType
from inventory import key_values, lifecycle, sim_import
from inventory.history import Actor
from jobs import chunk_budget, locking
from jobs.models import Action, ImportRow, Job, JobState
from portal.models import ActorKind

logger = logging.getLogger("jobs")

#: What a chunk's transaction aims to hold its locks for, and the first chunk's size.
TARGET_MS = 250
FIRST_CHUNK = 1_000
MIN_CHUNK = 100
MAX_CHUNK = 20_000

#: How long a later pass that could take none of its waiting targets waits
#: before the next one, first and at most (seconds).
RETRY_WAIT = 0.05
RETRY_WAIT_MAX = 1.0

#: Skip reason of a target that no longer exists (the 90-day purge took it).
GONE = "no longer exists"


class JobRefused(Exception):
    """The job cannot go on, and retrying will not help; the message says why."""


def fixed_chunk_size() -> int | None:
    """``JOBS_CHUNK_SIZE`` in the settings, for tests that need many chunks;
    None (the default) sizes chunks by their lock time."""
    return getattr(settings, "JOBS_CHUNK_SIZE", None)


def next_size(size: int, held_ms: int) -> int:
    """The next chunk's size from this one's: scaled so that it would have held
    its locks ``TARGET_MS``, at most twice as large, within the bounds."""
    scaled = size * 2 if held_ms <= 0 else int(size * TARGET_MS / held_ms)
    return max(MIN_CHUNK, min(scaled, size * 2, MAX_CHUNK))


def actor_for(job: Job) -> Actor:
    """Who the History rows name: the user who confirmed it, as support for a
    staff import; only the label if the user has been deleted since."""
    kind = ActorKind.SUPPORT if job.action == Action.IMPORT else job.created_by_kind
    return Actor(kind=kind, user=job.created_by, label=job.created_by_label)


# -- what one chunk does ----------------------------------------------------------


def _lifecycle_chunk(job: Job, taken: locking.Taken) -> tuple[int, dict[str, int]]:
    kwargs = {"group": job.group} if job.action == Action.ASSIGN else {}
    rule = {
        Action.SUSPEND: lifecycle.suspend,
        Action.TERMINATE: lifecycle.terminate,
        Action.ASSIGN: lifecycle.assign_to_group,
        Action.RESET: lifecycle.reset,
    }[job.action]
    result = rule(
        endpoints=taken.endpoints(job),
        actor=actor_for(job),
        reason=job.reason,
        batch=job.batch,
        **kwargs,
    )
    return result.changed, dict(result.skipped)


def _import_chunk(job: Job, start: int, end: int) -> tuple[int, dict[str, int]]:
    staged = ImportRow.objects.filter(job=job, position__gte=start, position__lt=end)
    rows = [
        sim_import.SimRow(r.line, r.iccid, r.imsis, r.name, r.reference, r.tags)
        for r in staged.order_by("position")
    ]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            sim_import.write_rows(
                cursor,
                rows,
                account=job.account,
                actor=actor_for(job),
                batch=job.batch,
                now=timezone.now(),
            )
    except (IntegrityError, psycopg.IntegrityError) as exc:  # COPY's come unwrapped
        raise JobRefused(
            f"{sim_import.ADDED_MEANWHILE}: line {rows[0].line} to {rows[-1].line} "
            f"could not be written ({exc}). {job.changed:,} of {job.total:,} lines had been "
            "imported before."
        ) from exc
    if end == job.total:
        ImportRow.objects.filter(job=job).delete()
    return len(rows), {}


def _key_value_chunk(job: Job, taken: locking.Taken) -> tuple[int, dict[str, int]]:
    result = key_values.set_key_value(
        endpoint_ids=taken.endpoint_ids,
        account_id=job.account_id,
        key=job.key,
        value=job.value,
        actor=actor_for(job),
        batch=job.batch,
    )
    return result.changed, dict(result.skipped)


#: The rule of each bulk action, given the endpoints the chunk holds.
_BULK = {
    Action.SUSPEND: _lifecycle_chunk,
    Action.TERMINATE: _lifecycle_chunk,
    Action.ASSIGN: _lifecycle_chunk,
    Action.RESET: _lifecycle_chunk,
    Action.SET_KEY_VALUE: _key_value_chunk,
}


def _add(job: Job, changed: int, skipped: dict[str, int], end: int) -> None:
    """The chunk's outcome into the job row (saved by the caller, in the chunk's
    transaction)."""
    job.changed += changed
    for reason, n in skipped.items():
        job.skipped[reason] = job.skipped.get(reason, 0) + n
    job.position = end


def _bulk_chunk(job: Job, size: int, *, wait: bool) -> int:
    """One chunk of a bulk action: the next ``size`` positions, or once they
    are all passed a later pass over the waiting targets (``jobs.locking``).
    Returns how many targets it settled. The job object is changed only once
    every statement has succeeded (an attempt cut by ``chunk_budget`` leaves
    it as it was)."""
    if job.position < job.total:
        end = min(job.position + size, job.total)
        piece = locking.first_pass(job, start=job.position, end=end)
    else:
        end = job.position
        piece = locking.later_pass(job, size=size)
    taken = locking.take(job, piece, wait=wait)
    changed, skipped = _BULK[job.action](job, taken)
    gone = taken.settled - changed - sum(skipped.values())
    if gone:
        skipped[GONE] = gone
    _add(job, changed, skipped, end)
    job.passed_over += taken.passed_over
    if piece.later:
        job.later_passes += 1
        job.waiting -= taken.settled
    else:
        job.waiting += taken.passed_over
    return taken.settled


def _budgeted_bulk_chunk(job: Job, size: int) -> tuple[int, int, float]:
    """``_bulk_chunk`` within the lock budget (``jobs.chunk_budget``): an
    attempt that would pass it is rolled back and made again at half the size,
    down to ``MIN_CHUNK``, which runs unbounded. Returns (targets settled, the
    size that was done, when its attempt began)."""
    while True:
        began = time.perf_counter()
        if size <= MIN_CHUNK:
            return _bulk_chunk(job, size, wait=False), size, began
        try:
            with chunk_budget.bounded(chunk_budget.budget()):
                return _bulk_chunk(job, size, wait=False), size, began
        except chunk_budget.Exceeded:
            job.cut_chunks += 1
            logger.info("job %s: a chunk of %s passed its lock budget, halved", job.pk, size)
            left = job.total - job.position if job.position < job.total else job.waiting
            size = max(MIN_CHUNK, min(size, left) // 2)


def finish(job: Job, state: JobState, error: str = "") -> None:
    """Mark the (locked) job ended; the caller saves it in its transaction,
    which also holds the account's ``job.finished`` event (docs/webhooks.md)."""
    job.state = state
    job.finished_at = timezone.now()
    if error:
        job.error = error
    outbox.emit(
        account_id=job.account_id,
        type=EventType.JOB_FINISHED,
        data={
            "job": {
                "id": job.pk,
                "action": job.action,
                "state": job.state,
                "total": job.total,
                "changed": job.changed,
                "skipped": job.skipped,
                "error": job.error,
                "created_at": job.created_at,
                "finished_at": job.finished_at,
            }
        },
    )


def _locks_held_ms(started: float) -> int:
    """Fire the deferred foreign-key checks now (Django's are INITIALLY DEFERRED
    and would otherwise run inside COMMIT) so the time measured is the time the
    locks are held, then defer them again."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        held = round((time.perf_counter() - started) * 1000)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return held


def run_chunk(job_id: int, *, size: int | None = None, wait: bool = False) -> Job:
    """Do the next chunk of the job (``size`` targets, by default the fixed
    size or the first chunk's), or finish it; one transaction (``wait``: wait
    for row locks, ``jobs.locking.take``). The job
    returned carries ``chunk_ms``, the time this chunk held its locks,
    ``chunk_settled``, how many targets it settled, and ``chunk_size``, the
    size it did (smaller than asked when ``jobs.chunk_budget`` cut it)."""
    started = time.perf_counter()
    settled = 0
    done_size = size
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(of=("self",))
            .select_related("account", "group", "created_by")
            .get(pk=job_id)
        )
        if job.finished:
            return job
        if job.cancel_requested:
            finish(job, JobState.CANCELLED)
        else:
            size = size or fixed_chunk_size() or FIRST_CHUNK
            done_size = size
            if job.action == Action.IMPORT:
                end = min(job.position + size, job.total)
                if end > job.position:
                    settled = end - job.position
                    changed, skipped = _import_chunk(job, job.position, end)
                    _add(job, changed, skipped, end)
            elif job.position < job.total or job.waiting:
                if wait or fixed_chunk_size():
                    # Inline (bounded by the request's statement timeout) or
                    # sized by the tests: no budget of its own.
                    settled = _bulk_chunk(job, size, wait=wait)
                else:
                    # The endpoints' locks are those of the attempt that was
                    # done; the job row's lock blocks no network batch.
                    settled, done_size, started = _budgeted_bulk_chunk(job, size)
            if job.position == job.total and not job.waiting:
                finish(job, JobState.SUCCEEDED)
        held = _locks_held_ms(started)
        job.longest_chunk_ms = max(job.longest_chunk_ms, held)
        job.save()
    job.chunk_ms = held
    job.chunk_settled = settled
    job.chunk_size = done_size
    logger.debug(
        "job %s at %s of %s, %s waiting (%s)",
        job.pk,
        job.position,
        job.total,
        job.waiting,
        job.state,
    )
    return job


def _begin(job_id: int) -> Job:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if not job.finished:
            if job.state == JobState.QUEUED:
                job.state = JobState.RUNNING
                job.started_at = timezone.now()
            job.attempts += 1
            job.save(update_fields=["state", "started_at", "attempts"])
    return job


def run(
    job_id: int,
    *,
    size: int | None = None,
    after_chunk: Callable[[Job], None] | None = None,
    inline: bool = False,
) -> Job:
    """Run the job from where it stands to its end. ``after_chunk`` is called
    after each committed chunk but the last (a worker asks there whether it must
    stop). A ``JobRefused`` fails the job; any other error is left to the caller
    (the worker retries, and the retry resumes). Without ``size`` (or
    ``JOBS_CHUNK_SIZE``) each chunk is sized from the one before (``next_size``).
    A later pass that found all its targets still held waits before the next
    one (``RETRY_WAIT``, twice as long each time up to ``RETRY_WAIT_MAX``),
    holding no lock. ``inline`` (a small job run in the request): chunks wait
    for row locks, bounded by the request's statement timeout, and pass
    nothing over."""
    job = _begin(job_id)
    fixed = size or fixed_chunk_size()
    current = fixed or FIRST_CHUNK
    wait = RETRY_WAIT
    while not job.finished:
        try:
            job = run_chunk(job_id, size=current, wait=inline)
        except JobRefused as refused:
            return fail(job_id, str(refused))
        if not fixed:
            # From the size that was done: smaller than asked if cut.
            done = getattr(job, "chunk_size", None) or current
            current = next_size(done, getattr(job, "chunk_ms", 0))
        if after_chunk and not job.finished:
            after_chunk(job)
        if job.finished or getattr(job, "chunk_settled", 1):
            wait = RETRY_WAIT
        else:
            time.sleep(wait)
            wait = min(wait * 2, RETRY_WAIT_MAX)
    return job


def fail(job_id: int, error: str) -> Job:
    """Give up on the job: Failed, with the reason; what its committed chunks
    did stays done and counted."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if not job.finished:
            finish(job, JobState.FAILED, error)
            job.save(update_fields=["state", "finished_at", "error"])
    logger.warning("job %s failed: %s", job_id, error)
    return job


def note_error(job_id: int, error: str) -> None:
    """Say on the job page why the last attempt stopped; it will be retried."""
    Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(error=error)
