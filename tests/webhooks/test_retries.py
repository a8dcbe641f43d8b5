"""A webhook failing for the whole retry window is disabled and says why; a
wake lost between commit and queueing is made up by the sweep; events and
attempts older than 30 days are purged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import AccountEvent, EventType
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import State
from tests.factories import EndpointFactory
from tests.webhooks.conftest import add_webhook, run_queue, run_until
from webhooks import retention, tasks
from webhooks.models import Attempt, AttemptKind, Webhook

pytestmark = pytest.mark.django_db(transaction=True)


def suspend_one(account, group):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
    return endpoint


def test_failing_for_the_whole_window_disables_the_webhook(
    account, group, receiver, fast_retries, settings
):
    # Retries after 0.2, 0.4 and 0.8 s fit in the window even on a busy machine.
    settings.WEBHOOK_DISABLE_AFTER = timedelta(seconds=2)
    receiver.status = lambda body: 500
    webhook = add_webhook(account, receiver)
    suspend_one(account, group)

    run_until(lambda: not Webhook.objects.get(pk=webhook.pk).enabled, what="the disabling")

    webhook.refresh_from_db()
    assert "every delivery failed since" in webhook.disabled_reason
    assert "Last error: HTTP 500" in webhook.disabled_reason
    tries = Attempt.objects.filter(webhook=webhook).count()
    assert tries >= 3  # retried before giving up
    # Disabled: nothing more is sent; the new event is only in the event log.
    suspend_one(account, group)
    run_queue()
    assert Attempt.objects.filter(webhook=webhook).count() == tries
    assert AccountEvent.objects.count() == 2


def test_the_sweep_delivers_what_no_wake_announced(account, group, receiver, monkeypatch):
    add_webhook(account, receiver)
    monkeypatch.setattr(tasks, "wake_accounts", lambda account_ids: None)  # the wake is lost
    suspend_one(account, group)
    run_queue()
    assert receiver.received == []

    tasks.sweep(timestamp=0)
    run_queue()

    assert [body["type"] for body in receiver.bodies()] == ["endpoint.state_changed"]


def test_events_and_attempts_older_than_30_days_are_purged(account, group, receiver):
    webhook = add_webhook(account, receiver)
    suspend_one(account, group)
    run_queue()
    old = AccountEvent.objects.get()
    recent = AccountEvent.objects.create(
        account=account, type=EventType.TEST, payload={"version": 1}
    )
    Attempt.objects.create(webhook=webhook, event=recent, kind=AttemptKind.TEST)
    AccountEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))

    counts = retention.purge()

    assert counts == {"events": 1, "attempts": 1}
    assert list(AccountEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert Attempt.objects.filter(event=recent).count() == 1
