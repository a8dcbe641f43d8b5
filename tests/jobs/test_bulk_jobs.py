"""The list's bulk confirmation acts through jobs: up to 1,000 endpoints as
before (same message, back to the list, one History batch: the job's), more
queued, with the user sent to the job's page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from inventory.models import Endpoint, History, State
from jobs import services
from jobs.models import Job, JobState
from tests.confirming import confirm, hidden_fields
from tests.jobs.conftest import make_endpoints

SUSPEND = reverse("inventory:endpoint_bulk_suspend")
ASSIGN = reverse("inventory:endpoint_bulk_assign")
LIST = reverse("inventory:endpoint_list")


def test_a_small_confirmed_suspend_runs_inline_and_says_so_on_the_list(
    client, operator, account, group
):
    make_endpoints(account=account, group=group, count=12, first=100_002)
    client.force_login(operator)

    page = client.post(SUSPEND, {"select_all": "1", "filter": ""})
    response = client.post(SUSPEND, {**hidden_fields(page), "reason": "recall"}, follow=True)

    assert response.redirect_chain[0][0] == LIST
    shown = response.content.decode()
    assert (
        "6 suspended, 6 skipped: 2 already suspended, 2 pending (not in a group), 2 terminated"
        in (shown)
    )
    job = Job.objects.get()
    assert (job.state, job.total, job.changed) == (JobState.SUCCEEDED, 12, 6)
    assert set(History.objects.values_list("batch", flat=True)) == {job.batch}
    assert History.objects.filter(reason="recall").count() == 6


def test_a_large_confirmed_assign_is_queued_and_lands_on_the_job_page(
    client, operator, account, group
):
    from tests.factories import GroupFactory

    target = GroupFactory(account=account, vslice=group.vslice, name="fleet-b")
    make_endpoints(
        account=account, group=group, count=services.INLINE_LIMIT + 1, state_sql="'pending'"
    )
    client.force_login(operator)

    response = confirm(
        client,
        ASSIGN,
        {"select_all": "1", "filter": urlencode({"state": "pending"}), "group": target.pk},
    )

    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    assert (job.state, job.total, job.group) == (JobState.QUEUED, 1_001, target)
    assert job.queue_job_id is not None
    page = client.get(response["Location"])
    body = page.content.decode()
    assert f"Job #{job.pk} queued: 1,001 endpoints." in body
    assert "Assign to group to fleet-b" in body
    assert 'hx-trigger="every 1s"' in body
    # Nothing changes until a worker runs it.
    assert set(Endpoint.objects.values_list("state", flat=True)) == {State.PENDING}
    assert not History.objects.exists()
