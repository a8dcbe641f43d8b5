"""``/api/v1/jobs``: the account's background jobs (bulk actions, imports), as
on the Jobs page: list, one job with its progress, cancel."""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Path, Query, Router

from api.permissions import actor, require
from api.problems import ProblemError
from api.representations import job_out
from api.responses import answers
from api.schemas.jobs import JobOut, JobPage
from jobs import selectors, services
from jobs.models import Action, JobState
from portal.models import Permission

router = Router(tags=["jobs"])

JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MAX_LIMIT = 1_000


@router.get("", response=answers({200: JobPage}), summary="List jobs", operation_id="list_jobs")
def list_jobs(
    request,
    state: Annotated[Literal[tuple(JobState.values)] | None, Query()] = None,  # type: ignore[valid-type]
    action: Annotated[Literal[tuple(Action.values)] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
):
    """Newest first; pass ``next`` back as ``cursor``."""
    jobs = selectors.account_jobs(account=request.account, state=state or "", action=action or "")
    if cursor:
        jobs = jobs.filter(pk__lt=cursor)
    rows = list(jobs.select_related("group")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"results": [job_out(job) for job in rows], "next": str(rows[-1].pk) if more else None}


@router.get(
    "/{job_id}", response=answers({200: JobOut}, 404), summary="Get a job", operation_id="get_job"
)
def get_job(request, job_id: JobId):
    return job_out(selectors.job_for(account=request.account, pk=job_id))


@router.post(
    "/{job_id}/cancel",
    response=answers({200: JobOut}, 403, 404, 409),
    summary="Cancel a job",
    operation_id="cancel_job",
)
def cancel_job(request, job_id: JobId):
    """A queued job stops at once; a running one after the chunk it is in."""
    require(request, Permission.OPERATE)
    job = selectors.job_for(account=request.account, pk=job_id)
    if not job.cancellable:
        raise ProblemError(409, services.why_not_cancellable(job))
    return job_out(services.cancel(job=job, request=request, actor=actor(request)))
