"""Inventory → Jobs: the account's background jobs and each job's live progress.

A job page polls itself with HTMX every second while the job runs (the same
view answers the fragment) and stops when the job has ended. Viewers see jobs;
operators and admins may cancel one. Another account's job is a 404.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from jobs import selectors, services
from jobs.forms import JobFilterForm
from jobs.models import Action, JobState
from portal import access_log
from portal.models import Permission
from portal.tenancy import member_required

PAGE_SIZE = 25
TARGETS_PAGE = 50
#: A queued job no worker has taken for this long says so on its page.
NO_WORKER_AFTER = timedelta(seconds=60)

STATE_BADGES = {
    JobState.QUEUED: "text-bg-light border",
    JobState.RUNNING: "text-bg-primary",
    JobState.SUCCEEDED: "text-bg-success",
    JobState.FAILED: "text-bg-danger",
    JobState.CANCELLED: "text-bg-secondary",
}


@member_required()
def job_list(request):
    form = JobFilterForm(request.GET)
    jobs = []
    older_url = ""
    filters = {}
    if form.is_valid():
        filters = {k: v for k in ("state", "action") if (v := form.cleaned_data[k])}
        queryset = selectors.account_jobs(account=request.account, **filters)
        if form.cleaned_data["before"]:
            queryset = queryset.filter(pk__lt=form.cleaned_data["before"])
        jobs = list(queryset.select_related("group")[: PAGE_SIZE + 1])
        if len(jobs) > PAGE_SIZE:
            jobs = jobs[:PAGE_SIZE]
            older_url = "?" + urlencode({**filters, "before": jobs[-1].pk})
    return render(
        request,
        "jobs/job_list.html",
        {
            "form": form,
            "rows": [(job, STATE_BADGES[job.state]) for job in jobs],
            "filtered": bool(filters),
            "first_page": not request.GET.get("before"),
            "newest_url": "?" + urlencode(filters),
            "older_url": older_url,
        },
    )


def _after(request) -> int:
    """The targets page: positions after ``?after=`` (a bad value is the start)."""
    value = request.GET.get("after", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else -1


@member_required()
def job_detail(request, pk: int):
    job = selectors.job_for(account=request.account, pk=pk)
    context = {
        "job": job,
        "badge": STATE_BADGES[job.state],
        "can_cancel": job.cancellable and request.member.can_operate,
        "no_worker": job.state == JobState.QUEUED
        and timezone.now() - job.created_at > NO_WORKER_AFTER,
    }
    if request.htmx:
        response = render(request, "jobs/_progress.html", context)
        if job.finished:
            # The poll that sees the end reloads the whole page, so that the
            # endpoints table below shows what the job did, not "not yet".
            response["HX-Refresh"] = "true"
        return response
    targets = []
    next_url = ""
    if job.action != Action.IMPORT:
        targets = selectors.job_targets(job=job, after=_after(request), limit=TARGETS_PAGE + 1)
        if len(targets) > TARGETS_PAGE:
            targets = targets[:TARGETS_PAGE]
            next_url = f"?after={targets[-1].position}"
    return render(
        request, "jobs/job_detail.html", {**context, "targets": targets, "next_url": next_url}
    )


@member_required(Permission.OPERATE)
@require_POST
def job_cancel(request, pk: int):
    job = selectors.job_for(account=request.account, pk=pk)
    if not job.cancellable:
        messages.info(request, services.why_not_cancellable(job))
        return redirect(job)
    job = services.cancel(job=job, request=request)
    access_log.annotate(request, action="cancel", job=job.pk)
    if job.state == JobState.CANCELLED:
        messages.success(request, f"Job {job.pk} was cancelled before it started; nothing changed.")
    else:
        messages.success(
            request,
            f"Cancelling job {job.pk}: it stops after the chunk it is working on "
            f"({job.done:,} of {job.total:,} done so far).",
        )
    return redirect(job)
