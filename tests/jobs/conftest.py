"""Helpers of the job tests: endpoints made set-based, and a Procrastinate
worker run in this process until the queue is empty."""

from __future__ import annotations

import threading

import pytest
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
