"""The worker's tasks: the daily purges are periodic tasks calling the purge
functions the commands call; stalled jobs are retried every minute; a job task
that keeps failing marks its job Failed on its last attempt."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from procrastinate.contrib.django import app

from inventory.models import Endpoint, EventStatus, EventType, NetworkEvent, State
from jobs import runner, tasks
from jobs.models import Action, Job, JobState
from tests.factories import EndpointFactory


def periodic() -> dict[str, str]:
    return {pt.task.name: pt.cron for pt in app.periodic_registry.periodic_tasks.values()}


def test_the_purges_are_daily_and_stalled_jobs_are_checked_every_minute():
    crons = periodic()
    assert crons["jobs.retry_stalled_jobs"] == "* * * * *"
    for name in ("inventory.purge_terminated", "inventory.purge_network_events"):
        minute, hour, *rest = crons[name].split()
        assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"], name


def test_the_daily_purge_tasks_delete_what_the_commands_delete(account):
    expired = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at=timezone.now() - timedelta(days=91)
    )
    kept = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at=timezone.now() - timedelta(days=89)
    )
    for n, days in enumerate([31, 29]):
        NetworkEvent.objects.create(
            event_id=f"e{n}",
            account=account,
            type=EventType.ATTACH,
            at=timezone.now(),
            received_at=timezone.now() - timedelta(days=days),
            status=EventStatus.ACCEPTED,
        )

    tasks.purge_terminated(timestamp=0)
    tasks.purge_network_events(timestamp=0)

    assert list(Endpoint.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Endpoint.objects.filter(pk=expired.pk).exists()
    assert list(NetworkEvent.objects.values_list("event_id", flat=True)) == ["e1"]


@pytest.mark.parametrize(
    ("attempts", "state", "error"),
    [
        (0, JobState.RUNNING, "RuntimeError: disk full (will be retried)"),
        (tasks.RETRY.max_attempts, JobState.FAILED, "RuntimeError: disk full (gave up after 11"),
    ],
    ids=["retried", "last attempt"],
)
def test_a_failing_job_task_is_retried_then_fails_its_job(
    account, operator, monkeypatch, attempts, state, error
):
    job = Job.objects.create(
        account=account, created_by=operator, action=Action.SUSPEND, state=JobState.RUNNING
    )

    def broken(job_id, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "run", broken)
    context = SimpleNamespace(job=SimpleNamespace(attempts=attempts), abort_reason=lambda: None)

    with pytest.raises(RuntimeError):
        tasks.run_job(context, job_id=job.pk)

    job.refresh_from_db()
    assert job.state == state
    assert job.error.startswith(error)
