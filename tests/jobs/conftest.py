"""Helpers of the job tests: endpoints made set-based, and a Procrastinate
worker run in this process until the queue is empty."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from procrastinate.contrib.django import app

from inventory.models import Endpoint
from tests.inventory.test_bulk_volume import insert_endpoints

#: A mix of every state, cycling by number, so a selection has changes and
#: skips of every kind.
MIXED_STATES = (
    "(ARRAY['active', 'idle', 'detached', 'pending', 'suspended', 'terminated'])[mod(n, 6) + 1]"
)


def make_endpoints(
    *, account, group, count: int, first: int = 100_000, state_sql: str = MIXED_STATES
):
    """``count`` endpoints of ``account`` (numbers ``first`` …, far from the
    factories' ICCIDs), as a queryset."""
    insert_endpoints(account=account, group=group, first=first, count=count, state_sql=state_sql)
    return Endpoint.objects.filter(account=account)


@contextmanager
def slow_endpoint_updates(seconds_per_row: float) -> Iterator[None]:
    """A trigger that makes every UPDATE of an endpoint sleep
    ``seconds_per_row`` for each row: a rule as slow as a loaded machine makes
    it, for the lock budget of a chunk (``jobs.chunk_budget``). Dropped on the
    way out, also in a test that commits."""
    table = Endpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_slow_update() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN PERFORM pg_sleep({float(seconds_per_row)}); RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_slow_update BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION test_slow_update()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS test_slow_update ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS test_slow_update()")


def run_queue() -> None:
    """Run the queued jobs with a real Procrastinate worker in this process (its
    own connections: the test must commit its data, ``transaction=True``). In a
    thread of its own: the browser tests leave an event loop in this one."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            app.run_worker(
                queues=["jobs"], wait=False, listen_notify=False, install_signal_handlers=False
            )
        except BaseException as exc:  # raised below, in the test's thread
            errors.append(exc)

    with app.replace_connector(app.connector.get_worker_connector()):
        worker = threading.Thread(target=work)
        worker.start()
        worker.join(timeout=300)
    if errors:
        raise errors[0]


@pytest.fixture
def many_chunks(settings):
    """Chunks of 100, so a few hundred endpoints make several of them."""
    settings.JOBS_CHUNK_SIZE = 100
    return 100
