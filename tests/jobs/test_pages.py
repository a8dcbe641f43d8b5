"""Inventory → Jobs: the list (newest first, filters, pages), a job's page with
its progress fragment that polls only while the job runs, the no-worker
notice, and Cancel (operators and admins, POST with CSRF)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.models import Endpoint, State
from jobs import services
from jobs.models import Action, Job, JobState
from jobs.views import PAGE_SIZE, TARGETS_PAGE
from tests.jobs.conftest import make_endpoints

LIST = reverse("jobs:job_list")


def text(response) -> str:
    """What the user reads: tags dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def queued_job(account, user, endpoints, action=Action.SUSPEND) -> Job:
    """A job as a big selection leaves it: frozen and waiting for a worker."""
    job = Job.objects.create(
        account=account, created_by=user, created_by_label=user.get_username(), action=action
    )
    job.total = services._freeze(job, endpoints)
    job.save()
    return job


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator)
    return client


# --- the list --------------------------------------------------------------------------


def test_the_list_shows_the_accounts_jobs_newest_first(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=6)
    first = services.start(
        account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints
    )
    second = queued_job(account, operator, endpoints, Action.TERMINATE)

    response = op_client.get(LIST)

    body = response.content.decode()
    assert body.index(f"#{second.pk}") < body.index(f"#{first.pk}")
    rows = text(response)
    assert f"#{second.pk} Terminate Queued 6 0 % 0 0 op" in rows
    assert f"#{first.pk} Suspend Succeeded 6 100 % 3 3 op" in rows


def test_the_list_filters_by_state_and_action(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=3)
    done = services.start(
        account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints
    )
    waiting = queued_job(account, operator, endpoints, Action.TERMINATE)

    queued_only = op_client.get(LIST, {"state": "queued"}).content.decode()
    suspends = op_client.get(LIST, {"action": "suspend"}).content.decode()
    none = op_client.get(LIST, {"action": "assign"})

    assert f"#{waiting.pk}" in queued_only and f"#{done.pk}" not in queued_only
    assert f"#{done.pk}" in suspends and f"#{waiting.pk}" not in suspends
    assert "No jobs match these filters." in text(none)


@pytest.mark.parametrize(
    "params",
    [{"state": "exploded"}, {"action": "\x00"}, {"before": "²"}, {"before": "9" * 30}],
    ids=["state", "action", "before-not-digit", "before-huge"],
)
def test_bad_filters_are_reported_not_a_500(op_client, account, params):
    response = op_client.get(LIST, params)
    assert response.status_code == 200
    assert 'data-testid="filter-errors"' in response.content.decode()


def test_the_list_pages_by_keyset(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=1)
    jobs = [queued_job(account, operator, endpoints) for _ in range(PAGE_SIZE + 2)]

    first = op_client.get(LIST).content.decode()
    older = re.search(r'href="(\?[^"]*before=\d+)" rel="next"', first).group(1)
    second = op_client.get(LIST + unescape(older)).content.decode()

    assert f"#{jobs[-1].pk}<" in first and f"#{jobs[1].pk}<" not in first
    assert f"#{jobs[1].pk}<" in second and f"#{jobs[0].pk}<" in second
    assert f"#{jobs[-1].pk}<" not in second


def test_the_list_runs_a_constant_number_of_queries(
    op_client, account, group, operator, django_assert_max_num_queries
):
    endpoints = make_endpoints(account=account, group=group, count=2)
    for _ in range(5):
        queued_job(account, operator, endpoints)
    with django_assert_max_num_queries(6):
        op_client.get(LIST)


# --- a job's page ----------------------------------------------------------------------


def test_a_running_jobs_page_polls_its_progress_every_second(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=300, state_sql="'active'")
    job = queued_job(account, operator, endpoints)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, position=120, changed=100, skipped={"already suspended": 20}
    )

    page = op_client.get(job.get_absolute_url())
    fragment = op_client.get(job.get_absolute_url(), headers={"HX-Request": "true"})

    body = page.content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert '<progress class="job-progress" max="300" value="120"' in body
    assert "120 of 300 endpoints done (40 %)" in text(page)
    assert "Changed 100 Skipped 20 20 already suspended" in text(page)
    # The fragment is the progress section alone, polling the same way.
    assert fragment.content.decode().lstrip().startswith('<section id="job-progress"')
    assert "<html" not in fragment.content.decode()
    assert 'hx-trigger="every 1s"' in fragment.content.decode()
    assert "HX-Refresh" not in fragment.headers


def test_a_finished_jobs_fragment_stops_the_polling(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=6)
    job = services.start(
        account=account, user=operator, action=Action.TERMINATE, endpoints=endpoints
    )

    fragment = op_client.get(job.get_absolute_url(), headers={"HX-Request": "true"})

    body = fragment.content.decode()
    assert "hx-trigger" not in body
    assert "Succeeded" in body
    assert "Changed 5 Skipped 1 1 already terminated" in text(fragment)
    # ... and reloads the page once, so its endpoints table shows the outcome.
    assert fragment.headers["HX-Refresh"] == "true"


def test_a_jobs_page_says_who_when_why_and_lists_its_endpoints(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=6, first=100_002)
    job = services.start(
        account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints, reason="recall"
    )
    iccids = list(endpoints.order_by("id").values_list("iccid", flat=True))

    page = op_client.get(job.get_absolute_url())

    shown = text(page)
    assert "Confirmed by op" in shown and "Reason recall" in shown
    assert str(job.batch) in shown
    # In id order: active, idle, detached, pending, suspended, terminated.
    assert f"{iccids[0]} Active → Suspended Suspended" in shown
    assert f"{iccids[3]} skipped Pending" in shown
    assert f"{iccids[5]} skipped Terminated" in shown


def test_a_jobs_endpoints_are_paged(op_client, account, group, operator):
    endpoints = make_endpoints(
        account=account, group=group, count=TARGETS_PAGE + 5, state_sql="'active'"
    )
    job = queued_job(account, operator, endpoints)
    iccids = list(endpoints.order_by("id").values_list("iccid", flat=True))

    first = op_client.get(job.get_absolute_url()).content.decode()
    after = re.search(r'href="(\?after=\d+)" rel="next"', first).group(1)
    second = op_client.get(job.get_absolute_url() + after).content.decode()

    assert iccids[TARGETS_PAGE - 1] in first and iccids[TARGETS_PAGE] not in first
    assert iccids[TARGETS_PAGE] in second and iccids[-1] in second
    assert "not yet" in second


def test_a_jobs_page_runs_a_constant_number_of_queries(
    op_client, account, group, operator, django_assert_max_num_queries
):
    endpoints = make_endpoints(account=account, group=group, count=TARGETS_PAGE * 2)
    job = services.start(account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints)
    with django_assert_max_num_queries(9):
        op_client.get(job.get_absolute_url())


def test_a_job_no_worker_took_for_a_minute_says_so(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=2)
    fresh = queued_job(account, operator, endpoints)
    stale = queued_job(account, operator, endpoints)
    Job.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(seconds=61))

    assert "No worker has picked this job up" not in text(op_client.get(fresh.get_absolute_url()))
    assert "No worker has picked this job up for over a minute" in text(
        op_client.get(stale.get_absolute_url())
    )


def test_the_nav_links_the_jobs_page(op_client, account):
    body = op_client.get(LIST).content.decode()
    assert f'<a class="nav-link active" href="{LIST}" aria-current="page">Jobs</a>' in body


# --- cancel ----------------------------------------------------------------------------


def test_an_operator_cancels_a_running_job_after_its_current_chunk(
    op_client, account, group, operator
):
    endpoints = make_endpoints(account=account, group=group, count=20, state_sql="'active'")
    job = queued_job(account, operator, endpoints)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)

    response = op_client.post(reverse("jobs:job_cancel", args=[job.pk]), follow=True)

    job.refresh_from_db()
    assert job.cancel_requested and job.state == JobState.RUNNING
    assert "it stops after the chunk it is working on (0 of 20 done so far)" in text(response)
    assert "Cancel requested: stops after the current chunk." in text(response)
    assert 'data-testid="job-cancel"' not in response.content.decode()


def test_cancelling_a_queued_job_ends_it_at_once(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=20, state_sql="'active'")
    job = queued_job(account, operator, endpoints)

    response = op_client.post(reverse("jobs:job_cancel", args=[job.pk]), follow=True)

    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert "was cancelled before it started; nothing changed" in text(response)
    assert set(Endpoint.objects.values_list("state", flat=True)) == {State.ACTIVE}


def test_a_finished_job_is_not_cancelled(op_client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=2, state_sql="'active'")
    job = services.start(account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints)

    response = op_client.post(reverse("jobs:job_cancel", args=[job.pk]), follow=True)

    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (JobState.SUCCEEDED, False)
    assert "has already ended (succeeded); nothing to cancel" in text(response)


def test_a_viewer_sees_a_job_but_cannot_cancel_it(client, viewer, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=2, state_sql="'active'")
    job = queued_job(account, operator, endpoints)
    client.force_login(viewer)

    page = client.get(job.get_absolute_url())
    refused = client.post(reverse("jobs:job_cancel", args=[job.pk]))

    assert "Queued" in text(page)
    assert 'data-testid="job-cancel"' not in page.content.decode()
    assert refused.status_code == 403
    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (JobState.QUEUED, False)


def test_cancel_needs_its_csrf_token(account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=2, state_sql="'active'")
    job = queued_job(account, operator, endpoints)
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)

    response = client.post(reverse("jobs:job_cancel", args=[job.pk]))

    assert response.status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_another_accounts_job_is_a_404_page_fragment_and_cancel_alike(
    client, admin_member, other_account, operator
):
    theirs = Job.objects.create(account=other_account, action=Action.SUSPEND, reason="secret")
    client.force_login(admin_member)
    url = theirs.get_absolute_url()

    assert client.get(url).status_code == 404
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 404
    assert client.post(reverse("jobs:job_cancel", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.state, theirs.cancel_requested) == (JobState.QUEUED, False)


@pytest.mark.parametrize("pk", ["0", "9" * 25])
def test_a_job_id_that_cannot_exist_is_a_404(op_client, pk):
    assert op_client.get(f"{LIST}{pk}/").status_code == 404
