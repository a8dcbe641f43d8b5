"""Account-scoped reads of jobs, shared by the pages (and the API to come).

Every read starts from the account: another account's job is simply not
found (a 404), whatever its id."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from inventory.models import Endpoint, History
from jobs.models import Job, JobTarget
from portal.models import Account


def account_jobs(*, account: Account, state: str = "", action: str = "") -> QuerySet[Job]:
    """The account's jobs, newest first (index ``job_account_newest``)."""
    jobs = Job.objects.filter(account=account)
    if state:
        jobs = jobs.filter(state=state)
    if action:
        jobs = jobs.filter(action=action)
    return jobs.order_by("-id")


def job_for(*, account: Account, pk: int) -> Job:
    """The account's job ``pk``, or 404."""
    return get_object_or_404(
        Job.objects.filter(account=account).select_related("group", "created_by"), pk=pk
    )


@dataclass(frozen=True)
class TargetRow:
    """One endpoint of a job's selection and what the job did to it."""

    position: int
    iccid: str | None  # None: the endpoint no longer exists
    state: str
    from_state: str
    to_state: str
    changed: bool
    #: Passed over while another transaction held the endpoint; a later pass does it.
    waiting: bool = False


def job_targets(*, job: Job, after: int, limit: int) -> list[TargetRow]:
    """Up to ``limit`` endpoints of the job's selection after position
    ``after``, each with its current state and its History row of this job
    (three queries, whatever the page)."""
    targets = list(
        JobTarget.objects.filter(job=job, position__gt=after)
        .order_by("position")
        .values_list("position", "endpoint_id", "waiting")[:limit]
    )
    ids = [endpoint_id for _, endpoint_id, _ in targets]
    endpoints = {
        pk: (iccid, state)
        for pk, iccid, state in Endpoint.objects.filter(account_id=job.account_id, pk__in=ids)
        .order_by()
        .values_list("pk", "iccid", "state")
    }
    changes = {
        endpoint_id: (from_state, to_state)
        for endpoint_id, from_state, to_state in History.objects.filter(
            endpoint_id__in=ids, batch=job.batch
        )
        .order_by()
        .values_list("endpoint_id", "from_state", "to_state")
    }
    rows = []
    for position, endpoint_id, waiting in targets:
        iccid, state = endpoints.get(endpoint_id, (None, ""))
        from_state, to_state = changes.get(endpoint_id, ("", ""))
        rows.append(
            TargetRow(position, iccid, state, from_state, to_state, endpoint_id in changes, waiting)
        )
    return rows
