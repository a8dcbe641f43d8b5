"""Jobs run chunk by chunk through the lifecycle rules: inline and queued give
the same History and counts, an interruption between chunks or inside one
resumes to exact counts, cancel stops after the current chunk, and a job stays
bound to the account and selection it was confirmed for."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from inventory import lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, History, State
from jobs import runner, services
from jobs.models import Action, Job, JobState, JobTarget
from tests.factories import EndpointFactory, GroupFactory
from tests.jobs.conftest import make_endpoints, run_queue, slow_endpoint_updates


class Interrupted(Exception):
    """Stands for the process dying at that point."""


def history_of(job: Job) -> list[tuple]:
    return list(
        History.objects.filter(batch=job.batch)
        .order_by("endpoint_id")
        .values_list("endpoint_id", "from_state", "to_state", "action", "actor_label", "reason")
    )


def assert_exact(job: Job) -> None:
    """What every finished job must hold: its counts add up, and History has
    one row per change, each endpoint at most once."""
    job.refresh_from_db()
    assert job.changed + sum(job.skipped.values()) == job.position
    rows = History.objects.filter(batch=job.batch)
    assert rows.count() == job.changed
    assert rows.values("endpoint_id").distinct().count() == job.changed


# --- inline ----------------------------------------------------------------------------


def test_a_small_selection_runs_inline_and_reads_as_the_rule_did(account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=12)

    job = services.start(
        account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints, reason="recall"
    )

    assert job.state == JobState.SUCCEEDED
    assert job.queue_job_id is None
    assert (job.total, job.position, job.changed) == (12, 12, 6)
    assert job.skipped == {"already suspended": 2, "pending (not in a group)": 2, "terminated": 2}
    assert job.started_at and job.finished_at and job.attempts == 1
    assert_exact(job)
    assert set(Endpoint.objects.values_list("state", flat=True)) == {
        State.SUSPENDED,
        State.PENDING,
        State.TERMINATED,
    }
    assert {row[4:] for row in history_of(job)} == {("op", "recall")}


def test_another_accounts_endpoints_are_never_frozen_into_a_job(
    account, other_account, group, operator
):
    ours = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    theirs_group = GroupFactory(account=other_account)
    theirs = EndpointFactory(account=other_account, state=State.ACTIVE, primary_group=theirs_group)

    job = services.start(
        account=account,
        user=operator,
        action=Action.TERMINATE,
        endpoints=Endpoint.objects.all(),
    )

    assert list(JobTarget.objects.filter(job=job).values_list("endpoint_id", flat=True)) == [
        ours.pk
    ]
    theirs.refresh_from_db()
    assert theirs.state == State.ACTIVE
    assert job.changed == 1


def test_the_selection_is_frozen_when_the_job_is_created(account, group, operator, many_chunks):
    """Endpoints that start to match later are not acted on; endpoints that
    disappear (purged) are counted as skipped, so the counts still add up."""
    endpoints = make_endpoints(
        account=account, group=group, count=250, state_sql="'active'"
    ).order_by("id")
    job = services.start(account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints)
    assert job.state == JobState.SUCCEEDED  # inline: nothing can change in between here
    later = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)

    second = Job.objects.create(
        account=account, created_by=operator, action=Action.TERMINATE, total=0
    )
    second.total = services._freeze(second, Endpoint.objects.filter(account=account))
    second.save()
    doomed = list(endpoints.values_list("pk", flat=True)[:3])
    Endpoint.objects.filter(pk__in=doomed).delete()
    runner.run(second.pk)

    second.refresh_from_db()
    later.refresh_from_db()
    assert second.total == 251
    assert second.changed == 248
    assert second.skipped == {runner.GONE: 3}
    assert later.state == State.TERMINATED
    assert_exact(second)


# --- interrupted and resumed --------------------------------------------------------


@pytest.mark.parametrize("action", [Action.SUSPEND, Action.TERMINATE, Action.ASSIGN])
def test_a_job_interrupted_between_chunks_resumes_after_the_last_one(
    account, group, operator, many_chunks, action
):
    target = GroupFactory(account=account, vslice=group.vslice)
    endpoints = make_endpoints(account=account, group=group, count=1_000)
    job = Job.objects.create(
        account=account,
        created_by=operator,
        created_by_label="op",
        action=action,
        group=target if action == Action.ASSIGN else None,
    )
    job.total = services._freeze(job, endpoints)
    job.save()
    expected = lifecycle.preview(
        action=action, endpoints=endpoints, group=target if action == Action.ASSIGN else None
    )
    chunks = []

    def die_after_the_third(job):
        chunks.append(job.position)
        if len(chunks) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        runner.run(job.pk, after_chunk=die_after_the_third)

    job.refresh_from_db()
    assert (job.state, job.position) == (JobState.RUNNING, 300)
    assert_exact(job)
    done_so_far = job.changed

    resumed = runner.run(job.pk)

    assert resumed.state == JobState.SUCCEEDED
    assert resumed.position == resumed.total == 1_000
    assert resumed.changed > done_so_far
    assert resumed.attempts == 2
    assert_exact(resumed)
    # Exactly what one uninterrupted call of the rule would have done.
    assert (resumed.changed, resumed.skipped) == (expected.will_change, expected.skipped)


def test_a_chunk_that_dies_inside_its_transaction_leaves_no_trace_and_is_redone(
    account, group, operator, many_chunks, monkeypatch
):
    endpoints = make_endpoints(account=account, group=group, count=600, state_sql="'active'")
    job = Job.objects.create(account=account, created_by=operator, action=Action.SUSPEND)
    job.total = services._freeze(job, endpoints)
    job.save()
    real_add = runner._add
    calls = []

    def dies_in_the_fourth_chunk(job, changed, skipped, end):
        calls.append(end)
        if len(calls) == 4:
            # The rule has locked, changed and written History for this chunk.
            assert History.objects.filter(batch=job.batch).count() == 400
            raise Interrupted
        real_add(job, changed, skipped, end)

    monkeypatch.setattr(runner, "_add", dies_in_the_fourth_chunk)
    with pytest.raises(Interrupted):
        runner.run(job.pk)

    job.refresh_from_db()
    assert (job.position, job.changed) == (300, 300)
    assert History.objects.filter(batch=job.batch).count() == 300
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == 300

    monkeypatch.setattr(runner, "_add", real_add)
    resumed = runner.run(job.pk)

    assert (resumed.state, resumed.changed, resumed.skipped) == (JobState.SUCCEEDED, 600, {})
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == 600
    assert_exact(resumed)


# --- cancel ----------------------------------------------------------------------------


def test_cancel_takes_effect_after_the_current_chunk(account, group, operator, many_chunks):
    endpoints = make_endpoints(account=account, group=group, count=500, state_sql="'idle'")
    job = Job.objects.create(account=account, created_by=operator, action=Action.TERMINATE)
    job.total = services._freeze(job, endpoints)
    job.save()

    def cancel_during_the_second(job):
        if job.position == 200:
            services.cancel(job=job)

    finished = runner.run(job.pk, after_chunk=cancel_during_the_second)

    assert finished.state == JobState.CANCELLED
    assert (finished.position, finished.changed) == (200, 200)
    assert finished.finished_at is not None
    assert Endpoint.objects.filter(state=State.TERMINATED).count() == 200
    assert Endpoint.objects.filter(state=State.IDLE).count() == 300
    assert_exact(finished)


def test_a_queued_job_cancelled_before_a_worker_takes_it_does_nothing(
    account, group, operator, many_chunks
):
    endpoints = make_endpoints(account=account, group=group, count=50, state_sql="'active'")
    job = Job.objects.create(account=account, created_by=operator, action=Action.SUSPEND)
    job.total = services._freeze(job, endpoints)
    job.save()

    cancelled = services.cancel(job=job)
    after = runner.run(job.pk)

    assert cancelled.state == after.state == JobState.CANCELLED
    assert after.position == after.changed == 0
    assert not History.objects.filter(batch=job.batch).exists()
    assert set(Endpoint.objects.values_list("state", flat=True)) == {State.ACTIVE}


def test_a_finished_job_cannot_be_cancelled(account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=3, state_sql="'active'")
    job = services.start(account=account, user=operator, action=Action.SUSPEND, endpoints=endpoints)

    after = services.cancel(job=job)

    assert (after.state, after.cancel_requested) == (JobState.SUCCEEDED, False)


# --- inline and queued: one code path -----------------------------------------------


def outcome(job: Job, endpoints) -> tuple:
    """A job's counts and History, by each endpoint's place in its selection."""
    job.refresh_from_db()
    place = {pk: n for n, pk in enumerate(endpoints.order_by("id").values_list("pk", flat=True))}
    history = Counter((place[endpoint_id], *rest) for endpoint_id, *rest in history_of(job))
    return job.state, job.total, job.changed, job.skipped, history


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", [Action.SUSPEND, Action.TERMINATE, Action.ASSIGN])
def test_inline_and_queued_give_the_same_history_and_counts(
    account, other_account, operator, many_chunks, monkeypatch, action
):
    from portal.models import Role
    from tests.factories import MemberFactory

    MemberFactory(account=other_account, user=operator, role=Role.ADMIN)
    results = []
    count = services.INLINE_LIMIT + 200
    for n, acct in enumerate([account, other_account]):
        group = GroupFactory(account=acct, vslice__subnet="100.64.0.0/16")
        target = GroupFactory(account=acct, vslice=group.vslice)
        endpoints = make_endpoints(
            account=acct, group=group, count=count, first=100_002 + n * 12_000
        )
        queued = n == 1
        monkeypatch.setattr(services, "INLINE_LIMIT", 1_000 if queued else 10_000)
        job = services.start(
            account=acct,
            user=operator,
            action=action,
            endpoints=endpoints,
            group=target if action == Action.ASSIGN else None,
            reason="same either way",
        )
        assert (job.state == JobState.QUEUED) is queued
        if queued:
            assert job.queue_job_id is not None
            run_queue()
        results.append(outcome(job, endpoints))

    inline, queued = results
    assert inline[0] == queued[0] == JobState.SUCCEEDED
    assert inline == queued
    assert inline[2] > 0


def test_the_same_job_actor_is_used_after_the_user_is_deleted(account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=4, state_sql="'active'")
    job = Job.objects.create(
        account=account, created_by=operator, created_by_label="op", action=Action.SUSPEND
    )
    job.total = services._freeze(job, endpoints)
    job.save()
    operator.delete()

    runner.run(job.pk)

    assert set(History.objects.filter(batch=job.batch).values_list("actor_id", "actor_label")) == {
        (None, "op")
    }


def test_actor_is_support_for_an_import(account, operator):
    job = Job(account=account, created_by=operator, created_by_label="op", action=Action.IMPORT)
    assert runner.actor_for(job) == Actor(kind="support", user=operator, label="op")


# --- chunk sizes ---------------------------------------------------------------------


def test_the_next_chunk_is_scaled_toward_the_target_lock_time():
    target = runner.TARGET_MS
    assert runner.next_size(1_000, target) == 1_000
    assert runner.next_size(1_000, target * 4) == 250  # shrinks at once
    assert runner.next_size(1_000, target // 10) == 2_000  # grows at most twice
    assert runner.next_size(1_000, 0) == 2_000
    assert runner.next_size(200, 60_000) == runner.MIN_CHUNK
    assert runner.next_size(runner.MAX_CHUNK, 1) == runner.MAX_CHUNK


def test_without_a_fixed_size_each_chunk_is_sized_by_the_one_before(
    account, group, operator, settings, monkeypatch
):
    """Chunks follow their measured lock time: the first is ``FIRST_CHUNK``,
    a slow one makes the next smaller, fast ones make them grow; the counts
    still add up exactly."""
    del settings.JOBS_CHUNK_SIZE
    settings.JOBS_CHUNK_BUDGET_MS = 60_000  # no cut on a slow machine: sizes as scripted
    endpoints = make_endpoints(account=account, group=group, count=3_000, state_sql="'active'")
    job = Job.objects.create(account=account, created_by=operator, action=Action.SUSPEND)
    job.total = services._freeze(job, endpoints)
    job.save()
    held = iter([runner.TARGET_MS * 4, runner.TARGET_MS // 2, runner.TARGET_MS // 2] + [1] * 10)
    real = runner._locks_held_ms

    def measured(started):
        real(started)  # still fires the deferred checks
        return next(held)

    monkeypatch.setattr(runner, "_locks_held_ms", measured)
    positions = []
    job = runner.run(job.pk, after_chunk=lambda j: positions.append(j.position))

    assert positions == [1_000, 1_250, 1_750, 2_750]
    assert job.state == JobState.SUCCEEDED
    assert job.changed == 3_000
    assert job.longest_chunk_ms == runner.TARGET_MS * 4
    assert_exact(job)


def test_a_chunk_that_would_pass_its_lock_budget_is_undone_and_made_smaller(
    account, group, operator, settings
):
    """A chunk's statements stop at the budget (``jobs.chunk_budget``). Here a
    trigger makes the rule sleep 2 ms for each endpoint it changes, so a chunk
    of 1,000 would hold its locks 2 s: PostgreSQL cancels it at the budget, the
    attempt is rolled back, and the chunk is made again at half the size, down
    to ``MIN_CHUNK``, which runs unbounded. Every endpoint is changed once and
    History has it once."""
    del settings.JOBS_CHUNK_SIZE
    settings.JOBS_CHUNK_BUDGET_MS = 150
    endpoints = make_endpoints(account=account, group=group, count=400, state_sql="'active'")
    job = Job.objects.create(account=account, created_by=operator, action=Action.SUSPEND)
    job.total = services._freeze(job, endpoints)
    job.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        timeout_before = cursor.fetchone()[0]
    sizes = []

    with slow_endpoint_updates(0.002):
        job = runner.run(job.pk, after_chunk=lambda j: sizes.append(j.chunk_size))

    assert job.state == JobState.SUCCEEDED
    assert job.changed == 400
    assert job.cut_chunks >= 2  # 400 and 200 cannot fit 150 ms
    assert sizes and max(sizes) < runner.FIRST_CHUNK
    assert set(Endpoint.objects.values_list("state", flat=True)) == {State.SUSPENDED}
    assert_exact(job)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] == timeout_before  # the budget's own is gone
