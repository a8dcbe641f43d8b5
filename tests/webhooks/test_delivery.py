"""Deliveries to a real receiver on 127.0.0.1: signed (verified with the
``standardwebhooks`` package), retried, in order per endpoint, each event once
by ``webhook-id`` (a duplicate only as a retry of the same id)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from events.models import AccountEvent, EventType
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import State
from tests.factories import EndpointFactory
from tests.jobs.conftest import make_endpoints
from tests.webhooks.conftest import add_webhook, run_queue, run_until
from webhooks.models import Attempt, Lane

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_suspend_reaches_the_receiver_signed(account, group, receiver):
    webhook = add_webhook(account, receiver)
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)

    lifecycle.suspend(
        endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM, reason="lost"
    )
    run_queue()

    assert receiver.bad_signatures == 0
    [(webhook_id, body)] = receiver.received
    event = AccountEvent.objects.get()
    assert webhook_id == f"evt_{event.pk}"
    assert body["type"] == "endpoint.state_changed"
    assert body["data"] == {
        "version": 1,
        "endpoint": {"id": endpoint.pk, "iccid": endpoint.iccid},
        "action": "suspend",
        "from_state": "active",
        "to_state": "suspended",
        "reason": "lost",
        "actor": {"kind": "system", "label": "system"},
        "at": body["data"]["at"],
        "group": None,
    }
    assert body["timestamp"].endswith("Z")
    attempt = Attempt.objects.get()
    assert (attempt.webhook_id, attempt.event_id, attempt.status_code, attempt.ok) == (
        webhook.pk,
        event.pk,
        200,
        True,
    )


def test_no_webhook_the_event_is_logged_and_nothing_is_woken(
    account, group, django_capture_on_commit_callbacks
):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    with django_capture_on_commit_callbacks() as callbacks:
        lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
    # The event log keeps every event; no webhook, so no delivery is queued.
    assert list(AccountEvent.objects.values_list("type", flat=True)) == [
        EventType.STATE_CHANGED.value
    ]
    assert callbacks == []


def test_a_type_no_webhook_wants_is_logged_but_not_woken_nor_delivered(
    account, group, receiver, django_capture_on_commit_callbacks
):
    add_webhook(account, receiver, types=[EventType.JOB_FINISHED])
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    with django_capture_on_commit_callbacks() as callbacks:
        lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
    assert AccountEvent.objects.count() == 1
    assert callbacks == []
    assert not Attempt.objects.exists()


def test_500_twice_then_200_is_delivered_once_more(account, group, receiver, fast_retries):
    answers = iter([500, 500])
    receiver.status = lambda body: next(answers, 200)
    add_webhook(account, receiver)
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)

    lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
    run_until(lambda: receiver.received)

    assert receiver.answered == [500, 500, 200]
    attempts = list(Attempt.objects.order_by("id").values_list("status_code", "ok", "error"))
    assert attempts == [(500, False, "http_status"), (500, False, "http_status"), (200, True, "")]
    ids = {h["webhook-id"] for h in receiver.headers_seen}
    assert len(ids) == 1  # every attempt is the same event
    lane = Lane.objects.get(webhook__account=account, number=endpoint.pk % 16)
    assert (lane.failures, lane.failing_since, lane.next_attempt_at) == (0, None, None)


def in_order_per_endpoint(bodies: list[dict]) -> dict[int, list[str]]:
    per_endpoint = defaultdict(list)
    for body in bodies:
        per_endpoint[body["data"]["endpoint"]["id"]].append(body["data"]["to_state"])
    return per_endpoint


def test_receiver_down_then_up_everything_arrives_in_order_once(
    account, group, receiver, fast_retries
):
    """Two changes per endpoint (suspend, then terminate) while the receiver
    refuses everything; once it answers, all arrive, per endpoint in order."""
    down = {"on": True}
    receiver.status = lambda body: 503 if down["on"] else 200
    add_webhook(account, receiver)
    endpoints = make_endpoints(account=account, group=group, count=300, state_sql="'active'")

    lifecycle.suspend(endpoints=endpoints, actor=Actor.SYSTEM)
    lifecycle.terminate(endpoints=endpoints, actor=Actor.SYSTEM)
    run_queue()
    assert receiver.received == []
    assert 503 in receiver.answered
    down["on"] = False
    run_until(lambda: len(set(receiver.ids())) == 600, timeout=60)

    ids = receiver.ids()
    assert len(ids) == len(set(ids)) == 600  # each exactly once once accepted
    assert receiver.bad_signatures == 0
    per_endpoint = in_order_per_endpoint(receiver.bodies())
    assert len(per_endpoint) == 300
    assert all(states == ["suspended", "terminated"] for states in per_endpoint.values())
