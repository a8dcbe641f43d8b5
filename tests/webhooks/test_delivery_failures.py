"""A delivery fails, it never crashes: whatever the URL saved before URLs were
normalised and whatever bytes the receiver answers, every try is an attempt in
the log, counted for the retries and the disabling like any other failure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from inventory import lifecycle
from inventory.history import Actor
from inventory.models import State
from tests.factories import EndpointFactory
from tests.webhooks.conftest import add_webhook, run_queue
from tests.webhooks.raw_peer import RawPeer
from webhooks import services
from webhooks.models import Attempt, AttemptKind, Lane, Webhook

pytestmark = pytest.mark.django_db(transaction=True)

NUL_STATUS = b"HTTP/1.1 200\x00OK\r\nContent-Length: 0\r\n\r\n"


def suspend_one(account, group):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)


@pytest.fixture
def nul_peer():
    peer = RawPeer(NUL_STATUS).start()
    yield peer
    peer.stop()


def test_a_non_ascii_path_is_saved_encoded_and_delivered(account, group, receiver):
    webhook = add_webhook(account, receiver, url=receiver.url + "/Straße/ü?ort=Köln")
    assert webhook.url == receiver.url + "/Stra%C3%9Fe/%C3%BC?ort=K%C3%B6ln"
    suspend_one(account, group)
    run_queue()
    assert len(receiver.received) == 1
    assert receiver.paths == ["/hooks/in/Stra%C3%9Fe/%C3%BC?ort=K%C3%B6ln"]


def test_a_url_saved_before_normalisation_is_called_encoded(account, group, receiver):
    webhook = add_webhook(account, receiver)
    Webhook.objects.filter(pk=webhook.pk).update(url=receiver.url + "/ä/ö")
    suspend_one(account, group)
    run_queue()
    attempt = Attempt.objects.get()
    assert attempt.ok, attempt.error
    assert receiver.paths == ["/hooks/in/%C3%A4/%C3%B6"]


def test_a_nul_in_the_status_line_is_a_failed_attempt_and_disables(
    account, group, nul_peer, settings
):
    settings.WEBHOOK_DISABLE_AFTER = timedelta(0)
    webhook = add_webhook(account, nul_peer)
    suspend_one(account, group)
    run_queue()

    attempt = Attempt.objects.get()
    assert (attempt.ok, attempt.status_code, attempt.kind) == (False, None, AttemptKind.DELIVERY)
    assert attempt.error == "invalid_http_response"
    assert nul_peer.requests == 1
    webhook.refresh_from_db()
    assert not webhook.enabled
    assert "every delivery failed" in webhook.disabled_reason
    assert "\x00" not in webhook.disabled_reason
    assert Lane.objects.filter(webhook=webhook, failures=1).count() == 1


def test_a_nul_in_the_status_line_fails_the_retry_count_not_the_task(
    account, group, nul_peer, fast_retries
):
    webhook = add_webhook(account, nul_peer)
    suspend_one(account, group)
    run_queue()
    lane = Lane.objects.get(webhook=webhook, failures__gt=0)
    assert lane.next_attempt_at is not None
    assert lane.failures == webhook.attempts.filter(ok=False).count() >= 1
    assert not ProcrastinateJob.objects.filter(status="failed").exists()  # no task crashed


def test_a_test_event_to_a_nul_status_line_is_logged(account, nul_peer):
    webhook = add_webhook(account, nul_peer)
    services.send_test(webhook=webhook)
    run_queue()
    attempt = Attempt.objects.get()
    assert (attempt.kind, attempt.ok) == (AttemptKind.TEST, False)
    assert "\x00" not in attempt.error
