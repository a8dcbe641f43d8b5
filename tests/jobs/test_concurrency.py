"""Jobs on overlapping endpoints at the same moment, in real threads with
their own transactions: the lifecycle rules re-check each row under its lock,
so no interleaving of chunks makes an illegal transition, each job's counts add
up to its total, and History has exactly one row per change each job counted."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from django.db import connection

from inventory.models import Endpoint, History
from jobs import runner, services
from jobs.models import Action, Job, JobState
from tests.factories import GroupFactory
from tests.inventory.test_lifecycle_concurrency import LEGAL
from tests.jobs.conftest import make_endpoints

ENDPOINTS = 1_200


@pytest.mark.django_db(transaction=True)
def test_jobs_on_the_same_endpoints_never_make_an_illegal_transition(account, group, operator):
    other_group = GroupFactory(account=account, vslice=group.vslice)
    everything = make_endpoints(account=account, group=group, count=ENDPOINTS)
    ids = list(everything.order_by("id").values_list("pk", flat=True))
    initial = dict(everything.values_list("pk", "state"))
    # Overlapping selections: all, the second half, every third.
    plans = [
        (Action.SUSPEND, ids, None),
        (Action.TERMINATE, ids[ENDPOINTS // 2 :], None),
        (Action.ASSIGN, ids[::3], other_group),
        (Action.SUSPEND, ids[::2], None),
    ]
    jobs = []
    for action, chosen, target in plans:
        job = Job.objects.create(
            account=account,
            created_by=operator,
            created_by_label="op",
            action=action,
            group=target,
        )
        job.total = services._freeze(job, Endpoint.objects.filter(pk__in=chosen))
        job.save()
        jobs.append(job)
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def work(job_id: int) -> None:
        try:
            barrier.wait()
            runner.run(job_id, size=37)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(job.pk,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for job in jobs:
        job.refresh_from_db()
        assert job.state == JobState.SUCCEEDED
        assert job.changed + sum(job.skipped.values()) == job.total
        assert History.objects.filter(batch=job.batch).count() == job.changed
    assert sum(job.changed for job in jobs) == History.objects.count()

    chains = defaultdict(list)
    for row in History.objects.order_by("id"):
        chains[row.endpoint_id].append(row)
    final = dict(Endpoint.objects.values_list("pk", "state"))
    for pk, state in initial.items():
        for row in chains[pk]:
            assert row.from_state == state, f"endpoint {pk}: history chain broken at {row.pk}"
            assert LEGAL.get((row.action, row.from_state)) == row.to_state, (
                f"endpoint {pk}: illegal {row.action} {row.from_state} -> {row.to_state}"
            )
            state = row.to_state
        assert final[pk] == state
