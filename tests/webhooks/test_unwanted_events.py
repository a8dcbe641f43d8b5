"""An event no webhook wants is written settled (``seq = NOT_WANTED``): it is in
the event log (Activity, ``GET /api/v1/events``) and never numbered nor sent;
one a webhook wants waits for its number and is delivered once
(docs/webhooks.md "Delivery")."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import NOT_WANTED, AccountEvent, EventType
from inventory import editing, lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, State
from network.batch import apply_events
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory
from tests.webhooks.conftest import add_webhook, run_queue
from webhooks import delivery

pytestmark = pytest.mark.django_db(transaction=True)


def _seqs(account) -> dict[str, list]:
    written: dict[str, list] = {}
    for type_, seq in (
        AccountEvent.objects.filter(account=account).order_by("pk").values_list("type", "seq")
    ):
        written.setdefault(type_, []).append(seq)
    return written


def _edit(endpoint: Endpoint, name: str) -> editing.Edit:
    return editing.Edit(
        name=name,
        reference=endpoint.reference,
        tags=endpoint.tags,
        imei_lock_enabled=False,
        imei="",
        secondary_groups=[],
        static_ips={},
    )


def test_an_unwanted_event_is_listed_and_never_delivered(
    client, viewer, account, group, receiver, operator
):
    add_webhook(account, receiver, types=[EventType.UPDATED])
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
    endpoint.refresh_from_db()
    editing.apply_edit(
        endpoint=endpoint, edit=_edit(endpoint, "truck-7"), actor=Actor.for_user(operator)
    )

    # Written: the state change settled, the update waiting for its number.
    assert _seqs(account) == {"endpoint.state_changed": [NOT_WANTED], "endpoint.updated": [None]}
    run_queue()

    assert [body["type"] for body in receiver.bodies()] == ["endpoint.updated"]
    assert _seqs(account) == {"endpoint.state_changed": [NOT_WANTED], "endpoint.updated": [1]}
    # Numbering again numbers nothing more; a second run sends nothing more.
    assert delivery.sequence(account_id=account.pk) == 0
    run_queue()
    assert len(receiver.bodies()) == 1

    client.force_login(viewer)
    page = client.get(reverse("inventory:activity_list")).content.decode()
    assert 'data-type="endpoint.state_changed"' in page
    assert 'data-type="endpoint.updated"' in page
    listed = ApiClient(make_token(account, Role.VIEWER)[1]).get("/api/v1/events").json()
    assert [e["type"] for e in listed["results"]] == [
        "endpoint.updated",
        "endpoint.state_changed",
    ]


def test_a_network_batch_settles_what_no_webhook_wants(account, group, receiver):
    add_webhook(account, receiver, types=[EventType.SESSION_STARTED])
    endpoint = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    imsi = endpoint.imsis.first().imsi
    now = timezone.now().isoformat()
    apply_events(
        events=[
            {"id": "n1", "type": "session_start", "imsi": imsi, "apn": group.apn, "at": now},
            {"id": "n2", "type": "session_end", "imsi": imsi, "at": now},
        ]
    )

    assert _seqs(account) == {
        "endpoint.state_changed": [NOT_WANTED, NOT_WANTED],
        "endpoint.session_started": [None],
        "endpoint.session_ended": [NOT_WANTED],
    }
    run_queue()
    [body] = receiver.bodies()
    assert body["type"] == "endpoint.session_started"
    assert body["data"]["network_event_id"] == "n1"


def test_without_a_webhook_every_event_is_settled(account, group):
    endpoints = EndpointFactory.create_batch(
        3, account=account, state=State.ACTIVE, primary_group=group
    )
    lifecycle.suspend(
        endpoints=Endpoint.objects.filter(pk__in=[e.pk for e in endpoints]), actor=Actor.SYSTEM
    )

    assert _seqs(account) == {"endpoint.state_changed": [NOT_WANTED] * 3}
    assert not AccountEvent.objects.filter(seq__isnull=True).exists()


def test_a_disabled_webhook_wants_nothing(account, group, receiver):
    webhook = add_webhook(account, receiver)
    webhook.enabled = False
    webhook.save(update_fields=["enabled"])
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)

    assert _seqs(account) == {"endpoint.state_changed": [NOT_WANTED]}
