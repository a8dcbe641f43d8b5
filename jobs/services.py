"""Starting and cancelling jobs: the one code path of every bulk action.

``start`` freezes the confirmed selection into the job in one statement and
then either runs it inline through ``jobs.runner`` (at most ``INLINE_LIMIT``
endpoints: the user sees the result as before, in the same request) or queues
it for a worker and returns the queued job (the user lands on its page). Both
ways the same runner does the same chunks, so History and counts are the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

import audit
from audit.events import AuditActor
from audit.models import AuditAction
from inventory.history import Actor
from inventory.identifiers import clean_key, clean_value
from inventory.models import Endpoint, Group
from inventory.sim_import import SimRow, copy_rows
from jobs import runner
from jobs.models import Action, ImportRow, Job, JobState, JobTarget
from portal.models import Account, ActorKind

logger = logging.getLogger("jobs")

#: Up to this many endpoints a bulk action runs inline, in the request.
INLINE_LIMIT = 1_000

_LIFECYCLE_ACTIONS = (Action.SUSPEND, Action.TERMINATE, Action.ASSIGN, Action.RESET)
_TARGETS = connection.ops.quote_name(JobTarget._meta.db_table)


def _freeze(job: Job, endpoints: QuerySet[Endpoint]) -> int:
    """Write the ids of ``endpoints`` (only the job's account's) as the job's
    targets, numbered in id order, with one INSERT … SELECT; return how many."""
    selection = (
        Endpoint.objects.filter(account=job.account, pk__in=endpoints.values("pk"))
        .order_by()
        .values("id")
    )
    ids_sql, ids_params = selection.query.sql_with_params()
    with connection.cursor() as cursor:
        # Positional parameters: the selection's SQL comes compiled by Django.
        cursor.execute(
            f"INSERT INTO {_TARGETS} (job_id, position, endpoint_id) "
            "SELECT %s, row_number() OVER (ORDER BY s.id) - 1, s.id "
            f"FROM ({ids_sql}) s",
            [job.pk, *ids_params],
        )
        return cursor.rowcount


def _enqueue_or_run(job: Job) -> Job:
    """Inline for a small job, else on the queue (``job`` was just committed)."""
    if job.total <= INLINE_LIMIT:
        try:
            return runner.run(job.pk, inline=True)
        except Exception as exc:
            runner.fail(job.pk, f"{type(exc).__name__}: {exc}")
            raise
    return job


def _audit_actor(job: Job):
    """Who started ``job``, as the audit log names them: an API token by its label."""
    if job.created_by_kind == ActorKind.API:
        return AuditActor.api_token(job.created_by_label)
    return job.created_by


def _create(*, total_of: Callable[[Job], int], request: HttpRequest | None = None, **fields) -> Job:
    """Create the job, let ``total_of(job)`` stage its targets, and queue it if
    it is too big to run inline: all in one transaction, so a queued job always
    has its targets and a job with targets is always queued or run (and is in
    the audit log, with the address of ``request`` when there is one)."""
    from jobs.tasks import run_job

    with transaction.atomic():
        job = Job.objects.create(**fields)
        job.total = total_of(job)
        if job.total > INLINE_LIMIT:
            job.queue_job_id = run_job.defer(job_id=job.pk)
        job.save(update_fields=["total", "queue_job_id"])
        audit.record(
            action=AuditAction.BULK_JOB_STARTED,
            account=job.account,
            request=request,
            actor=_audit_actor(job),
            target=f"job {job.pk}",
            details={"job": job.pk, "action": job.action, "endpoints": job.total},
        )
    logger.info(
        "job %s created: %s of %s by %s (%s)",
        job.pk,
        job.action,
        job.total,
        job.created_by_label,
        "queued" if job.queue_job_id else "inline",
    )
    return _enqueue_or_run(job)


def start(
    *,
    account: Account,
    user: AbstractBaseUser | None = None,
    actor: Actor | None = None,
    action: str,
    endpoints: QuerySet[Endpoint],
    group: Group | None = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Job:
    """Act on the confirmed ``endpoints`` of ``account`` as ``user`` (a member in
    the portal) or ``actor`` (an API token): a finished job when it ran inline,
    a queued one otherwise. The job is bound to this account, actor, action and
    selection: nothing is re-evaluated later."""
    if action not in _LIFECYCLE_ACTIONS:
        raise ValueError(f"Unknown bulk action {action!r}.")
    if action == Action.ASSIGN and (group is None or group.account_id != account.pk):
        raise ValueError("Assigning endpoints needs a group of the same account.")
    if (user is None) == (actor is None):
        raise ValueError("A job is started by a user or by an actor, not both.")
    actor = actor or Actor.for_user(user)
    return _create(
        total_of=lambda job: _freeze(job, endpoints),
        request=request,
        account=account,
        created_by=actor.user,
        created_by_label=actor.label,
        created_by_kind=actor.kind,
        action=action,
        group=group if action == Action.ASSIGN else None,
        reason=reason,
    )


def start_set_key_value(
    *,
    account: Account,
    user: AbstractBaseUser | None = None,
    actor: Actor | None = None,
    endpoints: QuerySet[Endpoint],
    key: str,
    value: str,
) -> Job:
    """Set ``key`` to ``value`` on the confirmed ``endpoints`` of ``account`` as
    ``user`` or ``actor`` (``inventory.key_values.set_key_value`` per chunk):
    inline up to ``INLINE_LIMIT`` endpoints, else queued. The pair is checked
    here, so a job is created only for a valid one."""
    if (user is None) == (actor is None):
        raise ValueError("A job is started by a user or by an actor, not both.")
    actor = actor or Actor.for_user(user)
    key = clean_key(key)
    value = clean_value(value, key=key)
    return _create(
        total_of=lambda job: _freeze(job, endpoints),
        account=account,
        created_by=actor.user,
        created_by_label=actor.label,
        created_by_kind=actor.kind,
        action=Action.SET_KEY_VALUE,
        key=key,
        value=value,
    )


def _stage(job: Job, rows: list[SimRow]) -> int:
    with connection.cursor() as cursor:
        copy_rows(
            cursor,
            f"COPY {ImportRow._meta.db_table} (job_id, position, line, iccid, imsis, name,"
            " reference, tags) FROM STDIN",
            (
                (job.pk, n, row.line, row.iccid, row.imsis, row.name, row.reference, row.tags)
                for n, row in enumerate(rows)
            ),
        )
    return len(rows)


def start_import(
    *,
    account: Account,
    user: AbstractBaseUser,
    rows: list[SimRow],
    request: HttpRequest | None = None,
) -> Job:
    """Write validated SIM ``rows`` (``sim_import.validate``) into ``account``
    as a job of support ``user``: inline up to ``INLINE_LIMIT`` lines, else queued."""
    return _create(
        total_of=lambda job: _stage(job, rows),
        request=request,
        account=account,
        created_by=user,
        created_by_label=user.get_username(),
        created_by_kind=ActorKind.SUPPORT,
        action=Action.IMPORT,
        reason="import",
    )


def cancel(*, job: Job, request: HttpRequest | None = None, actor: Actor | None = None) -> Job:
    """Stop the job: a queued one at once (nothing was done), a running one
    after the chunk it is in (``jobs.runner`` checks before each chunk). The
    audit log records the request to cancel, by the user of ``request`` or by
    ``actor`` (an API token)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.cancellable:
            job.cancel_requested = True
            if job.state == JobState.QUEUED:
                runner.finish(job, JobState.CANCELLED)
            job.save(update_fields=["cancel_requested", "state", "finished_at"])
            audit.record(
                action=AuditAction.BULK_JOB_CANCELLED,
                account=job.account,
                request=request,
                actor=AuditActor.api_token(actor.label) if actor else None,
                target=f"job {job.pk}",
                details={"job": job.pk, "action": job.action, "done": job.position},
            )
    return job


def why_not_cancellable(job: Job) -> str:
    """Why ``job`` cannot be cancelled (it is not ``cancellable``), for the page and the API."""
    if job.finished:
        state = job.get_state_display().lower()
        return f"Job {job.pk} has already ended ({state}); nothing to cancel."
    if job.cancel_requested:
        return f"Cancelling job {job.pk} was already asked for; it stops after its current chunk."
    return "An import is written through once its file has been checked; it cannot be cancelled."
