"""A bulk action too large for one request, in Chromium: select all matching,
confirm, land on the job's page, watch its progress bar while a real
Procrastinate worker runs it, and see it end without reloading; then the
account's Jobs page. axe checks each page, at 1366 px and at a phone's width."""

import re

import pytest
from playwright.sync_api import expect

from inventory.models import Endpoint, History, State
from jobs.models import Job, JobState
from tests.browser.support import assert_accessible, assert_no_csp_violations, screenshot
from tests.jobs.conftest import make_endpoints, run_queue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COUNT = 1_200  # above the inline limit of 1,000: queued


def test_a_large_suspend_runs_as_a_job_with_live_progress(
    page, console_log, sign_in, operator, account, group, settings
):
    settings.JOBS_CHUNK_SIZE = 300
    make_endpoints(account=account, group=group, count=COUNT, state_sql="'active'")
    sign_in(operator)
    page.goto("/inventory/endpoints/?state=active")

    page.get_by_label(re.compile(r"Select all .* matching this filter")).check()
    page.get_by_role("button", name="Suspend", exact=True).click()
    expect(page.get_by_test_id("preview-summary")).to_contain_text(
        "1,200 endpoints will be suspended"
    )
    page.get_by_label("Reason").fill("fleet recall")
    page.get_by_role("button", name="Suspend 1,200").click()

    page.wait_for_url(re.compile(r"/inventory/jobs/\d+/$"))
    job = Job.objects.get()
    expect(page.get_by_test_id("job-state")).to_have_text("Queued")
    expect(page.get_by_test_id("job-progress")).to_have_attribute("data-polling", "")
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == 0  # not before a worker
    screenshot(page, "job-queued")
    assert_accessible(page, "job-queued")

    run_queue()

    # The page polls by itself: no reload.
    expect(page.get_by_test_id("job-state")).to_have_text("Succeeded", timeout=15_000)
    expect(page.get_by_test_id("job-changed")).to_have_text("1,200")
    expect(page.get_by_test_id("job-done")).to_contain_text("1,200 of 1,200")
    expect(page.get_by_test_id("job-progress")).not_to_have_attribute("data-polling", "")
    # The page reloaded itself at the end: the endpoints table says what was done.
    first_target = page.get_by_test_id("target-row").first
    expect(first_target).to_contain_text("Suspended")
    expect(first_target).not_to_contain_text("not yet")
    screenshot(page, "job-succeeded")
    assert_accessible(page, "job-succeeded")
    job.refresh_from_db()
    assert (job.state, job.changed, job.total) == (JobState.SUCCEEDED, COUNT, COUNT)
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == COUNT
    history = History.objects.filter(batch=job.batch)
    assert history.count() == COUNT
    assert set(history.values_list("reason", flat=True)) == {"fleet recall"}

    page.goto("/inventory/jobs/")
    row = page.get_by_test_id("job-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Succeeded")
    assert_accessible(page, "job-list")
    assert_no_csp_violations(console_log)
