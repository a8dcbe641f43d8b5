"""The admin's SIM import runs as a job of action "import": a bad file is
refused line by line before anything is staged, a small one is written inline
as before, a large one is queued and followed on the job's admin page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory.models import Endpoint, History, State
from inventory.sim_import import SimRow
from jobs import services
from jobs.models import Action, ImportRow, Job, JobState
from tests.factories import UserFactory, iccid_for, imsi_for
from tests.jobs.conftest import run_queue


@pytest.fixture
def support(client, account):
    user = UserFactory(username="support", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def upload(client, lines: int, account, start: int = 1000):
    text = "iccid,imsis,name\n" + "".join(
        f"{iccid_for(n)},{imsi_for(n)},car {n}\n" for n in range(start, start + lines)
    )
    file = SimpleUploadedFile("sims.csv", text.encode(), content_type="text/csv")
    return client.post(
        reverse("admin:inventory_endpoint_import"), {"account": account.pk, "file": file}
    )


def test_a_small_import_is_written_inline_as_one_job(client, support, account):
    response = upload(client, 3, account)

    page = client.get(response["Location"]).content.decode()
    assert "3 endpoints with 3 IMSIs imported as Pending into Vantiq Connect" in page
    job = Job.objects.get()
    assert (job.action, job.state, job.total, job.changed) == (
        Action.IMPORT,
        JobState.SUCCEEDED,
        3,
        3,
    )
    assert Endpoint.objects.filter(state=State.PENDING).count() == 3
    assert set(History.objects.values_list("batch", "actor_kind")) == {(job.batch, "support")}
    assert not ImportRow.objects.exists()


def test_a_bad_file_is_refused_line_by_line_and_no_job_is_made(client, support, account):
    text = f"iccid,imsis\n{iccid_for(5)},{imsi_for(5)}\n{iccid_for(5)},{imsi_for(6)}\n"
    file = SimpleUploadedFile("sims.csv", text.encode(), content_type="text/csv")

    response = client.post(
        reverse("admin:inventory_endpoint_import"), {"account": account.pk, "file": file}
    )

    body = response.content.decode()
    assert "1 line rejected; nothing was imported." in body
    assert f"line 3: ICCID {iccid_for(5)} is already on line 2" in body
    assert not Job.objects.exists() and not Endpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_large_import_is_queued_and_its_progress_shown_in_the_admin(
    client, support, account, settings
):
    settings.JOBS_CHUNK_SIZE = 400
    lines = services.INLINE_LIMIT + 200

    response = upload(client, lines, account)

    job = Job.objects.get()
    assert response["Location"] == reverse("admin:jobs_job_change", args=[job.pk])
    page = client.get(response["Location"]).content.decode()
    assert f"{lines:,} lines checked; importing them into Vantiq Connect as job #{job.pk}" in page
    assert f'<progress max="{lines}" value="0"></progress> 0 of 1,200 (0 %)' in page
    assert '<meta http-equiv="refresh" content="2">' in page
    assert ImportRow.objects.filter(job=job).count() == lines

    run_queue()

    job.refresh_from_db()
    assert (job.state, job.changed, job.position) == (JobState.SUCCEEDED, lines, lines)
    assert Endpoint.objects.filter(account=account, state=State.PENDING).count() == lines
    assert History.objects.filter(batch=job.batch, action="created").count() == lines
    assert not ImportRow.objects.exists()
    done = client.get(response["Location"]).content.decode()
    assert "1,200 of 1,200 (100 %)" in done
    assert 'http-equiv="refresh"' not in done


def test_a_conflict_that_appears_after_the_check_fails_the_job_with_its_lines(
    client, support, account, settings
):
    settings.JOBS_CHUNK_SIZE = 2
    rows = [
        SimRow(line=n - 1998, iccid=iccid_for(n), imsis=[imsi_for(n)]) for n in range(2000, 2004)
    ]
    Endpoint.objects.create(account=account, iccid=iccid_for(2002))

    job = services.start_import(account=account, user=support, rows=rows)

    assert job.state == JobState.FAILED
    assert (job.changed, job.position) == (2, 2)
    assert "added meanwhile by someone else: line 4 to 5 could not be written" in job.error
    assert "2 of 4 lines had been imported before" in job.error
