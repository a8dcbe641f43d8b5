"""No webhook starves another: a delivery task serves one webhook for at most
``WEBHOOK_TASK_SECONDS`` (checked after every attempt) and then queues itself
behind the others, and "Send test event" / "Redeliver" keep at most one of
each waiting per webhook (the portal answers 409 with the page, the API a 409
problem; nothing is queued or written)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from events import outbox
from events.models import AccountEvent, EventType
from inventory import lifecycle
from inventory.history import Actor
from portal.models import Role
from tests.factories import GroupFactory
from tests.jobs.conftest import make_endpoints
from tests.webhooks.conftest import add_webhook, run_queue, run_until
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import Attempt, AttemptKind, Webhook

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 1_200


@pytest.fixture
def other_receiver():
    server = Receiver().start()
    yield server
    server.stop()


def test_a_backlog_does_not_starve_another_accounts_webhook(
    account, group, other_account, receiver, other_receiver, settings
):
    settings.WEBHOOK_TASK_SECONDS = 0.2
    busy = add_webhook(account, receiver)
    quiet = add_webhook(other_account, other_receiver)
    lifecycle.suspend(
        endpoints=make_endpoints(account=account, group=group, count=BACKLOG, state_sql="'active'"),
        actor=Actor.SYSTEM,
    )  # queues the busy webhook's task first
    other_group = GroupFactory(account=other_account, vslice__subnet="100.65.0.0/16")
    lifecycle.suspend(
        endpoints=make_endpoints(
            account=other_account, group=other_group, count=1, first=900_000, state_sql="'active'"
        ),
        actor=Actor.SYSTEM,
    )

    run_queue()  # one worker slot, as in-process

    assert len(set(receiver.ids())) == BACKLOG and len(other_receiver.ids()) == 1
    [theirs] = Attempt.objects.filter(webhook=quiet).values_list("pk", flat=True)
    ours = list(Attempt.objects.filter(webhook=busy).order_by("pk").values_list("pk", flat=True))
    # The other account's event went out while the backlog was still being sent.
    assert ours[0] < theirs < ours[-1]
    assert sum(1 for pk in ours if pk > theirs) > BACKLOG // 4


def test_one_test_event_waits_at_a_time(account, client, admin_member, receiver):
    from tests.api.conftest import ApiClient, make_token

    webhook = add_webhook(account, receiver)
    services.send_test(webhook=webhook)
    with pytest.raises(services.AlreadyQueued, match="already waiting to be sent"):
        services.send_test(webhook=webhook)

    client.force_login(admin_member)
    page = client.post(reverse("webhooks:webhook_test", args=[webhook.pk]))
    assert page.status_code == 409
    assert "A test event of this webhook is already waiting to be sent" in page.content.decode()
    api = ApiClient(make_token(account, Role.ADMIN)[1])
    answer = api.post(f"/api/v1/webhooks/{webhook.pk}/test")
    assert answer.status_code == 409
    assert "already waiting to be sent" in answer.json()["detail"]
    assert AccountEvent.objects.filter(type=EventType.TEST).count() == 1  # nothing more written

    run_queue()
    assert Attempt.objects.filter(kind=AttemptKind.TEST, ok=True).count() == 1
    assert api.post(f"/api/v1/webhooks/{webhook.pk}/test").status_code == 202  # sent: again


def test_one_redelivery_waits_at_a_time(account, client, admin_member, receiver):
    webhook = add_webhook(account, receiver)
    services.send_test(webhook=webhook)
    run_queue()
    event = AccountEvent.objects.get()
    client.force_login(admin_member)
    url = reverse("webhooks:webhook_redeliver", args=[webhook.pk])
    assert client.post(url, {"event": event.pk}).status_code == 302
    refused = client.post(url, {"event": event.pk})
    assert refused.status_code == 409
    assert "A redelivery of this webhook is already waiting" in refused.content.decode()
    # A test event is its own queue slot: still accepted.
    assert client.post(reverse("webhooks:webhook_test", args=[webhook.pk])).status_code == 302
    run_queue()
    assert Attempt.objects.filter(kind=AttemptKind.REDELIVERY).count() == 1


def test_within_an_account_a_backlog_yields_to_the_other_webhook(
    account, group, receiver, other_receiver, settings
):
    """One slot per account, round robin within it: the second webhook of the
    account gets the turn when the first one's turn ends, not after its backlog."""
    settings.WEBHOOK_TASK_SECONDS = 0.2
    busy = add_webhook(account, receiver, types=["endpoint.state_changed"])
    other = add_webhook(account, other_receiver, types=["job.finished"])
    lifecycle.suspend(
        endpoints=make_endpoints(account=account, group=group, count=BACKLOG, state_sql="'active'"),
        actor=Actor.SYSTEM,
    )
    with transaction.atomic():
        outbox.emit(account_id=account.pk, type=EventType.JOB_FINISHED, data={"job": {"id": 1}})
    assert Webhook.objects.filter(pk__in=[busy.pk, other.pk]).count() == 2

    run_until(
        lambda: len(set(receiver.ids())) == BACKLOG and len(other_receiver.ids()) == 1,
        timeout=120,
    )
    [theirs] = Attempt.objects.filter(webhook=other).values_list("pk", flat=True)
    ours = list(Attempt.objects.filter(webhook=busy).order_by("pk").values_list("pk", flat=True))
    assert ours[0] < theirs < ours[-1]
