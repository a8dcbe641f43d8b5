"""A real delivery worker (``manage.py procrastinate worker`` on the webhooks
queue, its own process, beside a jobs worker as production runs them) killed
with SIGKILL in the middle of a burst of deliveries: a second delivery worker
takes over, and the receiver ends up with every event, per endpoint in order,
each ``webhook-id`` accepted at least once. Nothing is delivered twice except
what the killed worker had sent and not yet committed: every repeated id first
arrived before the kill, and nothing the second worker sent arrives twice."""

from __future__ import annotations

import signal
from collections import defaultdict

import pytest

from events.models import AccountEvent
from inventory import lifecycle
from inventory.history import Actor
from jobs.workers import WORKERS
from tests.jobs.conftest import make_endpoints
from tests.jobs.test_worker import Worker, wait_for
from tests.webhooks.conftest import add_webhook

ENDPOINTS = 2_000


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_burst_loses_and_reorders_nothing(account, group, receiver, tmp_path):
    add_webhook(account, receiver)
    endpoints = make_endpoints(account=account, group=group, count=ENDPOINTS, state_sql="'active'")
    lifecycle.suspend(endpoints=endpoints, actor=Actor.SYSTEM)
    lifecycle.terminate(endpoints=endpoints, actor=Actor.SYSTEM)
    total = AccountEvent.objects.count()
    assert total == 2 * ENDPOINTS
    log = tmp_path / "worker.log"

    jobs = Worker(log, args=WORKERS["jobs"])  # runs maintenance: the stalled-task retry
    first = Worker(log, args=WORKERS["webhooks"])
    try:
        wait_for(
            lambda: len(receiver.received) >= 600,
            timeout=60,
            what="the first worker did not deliver 600 events",
            log=log,
        )
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        first.stop()
    arrived_at_kill = len(receiver.ids())
    at_kill = len(set(receiver.ids()))
    assert at_kill < total, "the burst ended before the kill"

    second = Worker(log, args=WORKERS["webhooks"])
    try:
        wait_for(
            lambda: len(set(receiver.ids())) == total,
            timeout=120,
            what="the second worker did not deliver the rest",
            log=log,
        )
    finally:
        second.stop()
        jobs.stop()

    assert receiver.bad_signatures == 0
    expected = {event.webhook_id for event in AccountEvent.objects.all()}
    assert set(receiver.ids()) == expected  # nothing lost, nothing foreign
    # A receiver that keeps the first of each webhook-id sees every endpoint's
    # events in the order they happened.
    seen: set[str] = set()
    per_endpoint: dict[int, list[str]] = defaultdict(list)
    for webhook_id, body in list(receiver.received):
        if webhook_id in seen:
            continue
        seen.add(webhook_id)
        per_endpoint[body["data"]["endpoint"]["id"]].append(body["data"]["to_state"])
    assert len(per_endpoint) == ENDPOINTS
    assert all(states == ["suspended", "terminated"] for states in per_endpoint.values())
    # Repeats are only what the killed worker sent without committing.
    arrivals = receiver.ids()
    first_arrival: dict[str, int] = {}
    for index, webhook_id in enumerate(arrivals):
        if webhook_id in first_arrival:
            assert first_arrival[webhook_id] < arrived_at_kill, webhook_id
        else:
            first_arrival[webhook_id] = index
    repeats = len(arrivals) - total
    assert repeats <= arrived_at_kill
    print(f"delivered {total} events, {repeats} repeated after the kill")
