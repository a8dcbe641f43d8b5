"""A job whose endpoints another transaction holds (as a network event batch
does while it runs): its chunks pass them over instead of waiting, finish the
rest, and come back to them once they are free, each exactly once.

The holder is a real second connection holding ``SELECT … FOR UPDATE`` on a
few endpoints; the job runs in the test's own connection, with a lock timeout
so that a chunk that waited fails the test instead of hanging it."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from events.models import AccountEvent
from inventory.models import Endpoint, History, KeyValue
from jobs import runner, services
from jobs.models import Action, Job, JobState, JobTarget
from tests.jobs.conftest import make_endpoints

ENDPOINTS = 500
SIZE = 100


class Holder:
    """A second connection holding the row locks of some endpoints until
    ``release()`` commits."""

    def __init__(self, ids: list[int]):
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self.conn = psycopg.connect(**params)
        table = connection.ops.quote_name(Endpoint._meta.db_table)
        rows = self.conn.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%(ids)s) FOR UPDATE", {"ids": ids}
        ).fetchall()
        assert len(rows) == len(ids)
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.conn.commit()
            self.released = True

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def no_lock_waits():
    """A chunk that waited for a held row fails after 20 s instead of hanging."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '20s'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


def _job(account, operator, action: str, endpoints) -> Job:
    job = Job.objects.create(
        account=account,
        created_by=operator,
        created_by_label="op",
        action=action,
        key="site" if action == Action.SET_KEY_VALUE else "",
        value="north" if action == Action.SET_KEY_VALUE else "",
    )
    job.total = services._freeze(job, endpoints)
    job.save()
    return job


def _changed(job: Job, ids: list[int]) -> dict[int, int]:
    """History rows of the job per endpoint among ``ids``."""
    rows = History.objects.filter(batch=job.batch, endpoint_id__in=ids)
    counts: dict[int, int] = {}
    for endpoint_id in rows.values_list("endpoint_id", flat=True):
        counts[endpoint_id] = counts.get(endpoint_id, 0) + 1
    return counts


def _assert_each_once(job: Job, ids: list[int]) -> None:
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert (job.changed, job.skipped, job.waiting, job.done) == (len(ids), {}, 0, len(ids))
    assert job.percent == 100
    assert _changed(job, ids) == dict.fromkeys(ids, 1)
    assert AccountEvent.objects.filter(endpoint_id__in=ids).count() == len(ids)
    assert not JobTarget.objects.filter(job=job, waiting=True).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", [Action.SUSPEND, Action.SET_KEY_VALUE])
def test_held_endpoints_wait_for_a_later_pass_the_rest_goes_on(
    account, group, operator, action, no_lock_waits
):
    endpoints = make_endpoints(account=account, group=group, count=ENDPOINTS, state_sql="'idle'")
    ids = list(endpoints.order_by("id").values_list("pk", flat=True))
    held = [ids[5], ids[250], ids[ENDPOINTS - 1]]
    job = _job(account, operator, action, endpoints)
    holder = Holder(held)
    seen_at_the_end: list[tuple] = []

    def after_chunk(current: Job) -> None:
        if current.position == current.total and not holder.released:
            # Every position passed while the three are still held: the rest is
            # done and committed, the three are untouched and waiting.
            done = _changed(current, ids)
            seen_at_the_end.append(
                (
                    current.waiting,
                    current.passed_over,
                    current.later_passes,
                    current.done,
                    current.changed,
                    sorted(set(ids) - set(done)),
                    max(done.values()),
                )
            )
            holder.release()

    try:
        runner.run(job.pk, size=SIZE, after_chunk=after_chunk)
    finally:
        holder.close()

    assert seen_at_the_end == [(3, 3, 0, ENDPOINTS - 3, ENDPOINTS - 3, held, 1)]
    _assert_each_once(job, ids)
    assert (job.passed_over, job.later_passes) == (3, 1)
    if action == Action.SET_KEY_VALUE:
        assert KeyValue.objects.filter(endpoint_id__in=ids, value="north").count() == len(ids)
    else:
        assert set(Endpoint.objects.filter(pk__in=ids).values_list("state", flat=True)) == {
            "suspended"
        }


@pytest.mark.django_db(transaction=True)
def test_later_passes_come_back_until_the_holder_lets_go(account, group, operator, no_lock_waits):
    endpoints = make_endpoints(account=account, group=group, count=ENDPOINTS, state_sql="'idle'")
    ids = list(endpoints.order_by("id").values_list("pk", flat=True))
    held = ids[100:104]
    job = _job(account, operator, Action.SUSPEND, endpoints)
    holder = Holder(held)

    def after_chunk(current: Job) -> None:
        # Two later passes find all four still held; then the holder commits.
        if current.later_passes == 2:
            assert current.waiting == 4
            assert not _changed(current, held)
            holder.release()

    try:
        runner.run(job.pk, size=SIZE, after_chunk=after_chunk)
    finally:
        holder.close()

    _assert_each_once(job, ids)
    # Passed over on the first pass and on each of the two passes that found
    # them held; the third later pass took them.
    assert (job.passed_over, job.later_passes) == (4 * 3, 3)


class Killed(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_runner_killed_while_targets_wait_is_resumed_without_doing_any_twice(
    account, group, operator, no_lock_waits
):
    endpoints = make_endpoints(account=account, group=group, count=ENDPOINTS, state_sql="'idle'")
    ids = list(endpoints.order_by("id").values_list("pk", flat=True))
    held = [ids[0], ids[301]]
    job = _job(account, operator, Action.TERMINATE, endpoints)
    holder = Holder(held)

    def crash_at_the_end(current: Job) -> None:
        if current.position == current.total:
            raise Killed

    try:
        with pytest.raises(Killed):
            runner.run(job.pk, size=SIZE, after_chunk=crash_at_the_end)
        job.refresh_from_db()
        assert (job.state, job.position, job.waiting, job.done) == (
            JobState.RUNNING,
            ENDPOINTS,
            2,
            ENDPOINTS - 2,
        )
        assert set(JobTarget.objects.filter(job=job, waiting=True).values_list(
            "endpoint_id", flat=True
        )) == set(held)  # fmt: skip
        holder.release()
        runner.run(job.pk, size=SIZE)
    finally:
        holder.close()

    _assert_each_once(job, ids)
    assert job.attempts == 2
