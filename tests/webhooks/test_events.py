"""Which changes write which account events, in the same transaction, with the
payloads of docs/webhooks.md: edits, network sessions and rejections, job ends;
and that a webhook never gets another account's events."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import AccountEvent, EventType
from inventory import editing, lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, State
from jobs import services as jobs
from jobs.models import Action
from network.batch import apply_events
from tests.factories import EndpointFactory, GroupFactory
from tests.webhooks.conftest import add_webhook, run_queue
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_edit_writes_endpoint_updated(account, group, receiver, operator):
    add_webhook(account, receiver, types=[EventType.UPDATED])
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    edit = editing.Edit(
        name="truck-7",
        reference=endpoint.reference,
        tags=["fleet"],
        imei_lock_enabled=False,
        imei="",
        secondary_groups=[],
        static_ips={},
    )
    editing.apply_edit(endpoint=endpoint, edit=edit, actor=Actor.for_user(operator))
    run_queue()

    [body] = receiver.bodies()
    assert body["type"] == "endpoint.updated"
    data = body["data"]
    assert data["version"] == 1
    assert data["endpoint"] == {"id": endpoint.pk, "iccid": endpoint.iccid}
    assert data["changes"]["name"] == [endpoint.name, "truck-7"]
    assert data["changes"]["tags"] == [endpoint.tags, ["fleet"]]
    assert data["actor"] == {"kind": "user", "label": operator.get_username()}


def test_a_rolled_back_change_writes_no_event(account, group, receiver):
    add_webhook(account, receiver)
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    with pytest.raises(RuntimeError), transaction.atomic():
        lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
        assert AccountEvent.objects.count() == 1
        raise RuntimeError
    assert not AccountEvent.objects.exists()


def test_network_sessions_and_rejections(account, group, receiver):
    add_webhook(account, receiver)
    endpoint = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    suspended = EndpointFactory(account=account, state=State.SUSPENDED, primary_group=group)
    imsi = endpoint.imsis.first().imsi
    now = timezone.now().isoformat()
    apply_events(
        events=[
            {"id": "e1", "type": "session_start", "imsi": imsi, "apn": group.apn, "at": now},
            {"id": "e2", "type": "session_end", "imsi": imsi, "at": now},
            {
                "id": "e3",
                "type": "session_start",
                "imsi": suspended.imsis.first().imsi,
                "apn": group.apn,
                "at": now,
            },
            {"id": "e4", "type": "session_start", "imsi": "001010000000999", "apn": "x", "at": now},
        ]
    )
    run_queue()

    got = [(b["type"], b["data"]["endpoint"]["id"]) for b in receiver.bodies()]
    assert sorted(got) == sorted(
        [
            ("endpoint.state_changed", endpoint.pk),  # idle → active
            ("endpoint.session_started", endpoint.pk),
            ("endpoint.state_changed", endpoint.pk),  # active → idle
            ("endpoint.session_ended", endpoint.pk),
            ("endpoint.session_rejected", suspended.pk),
        ]
    )
    per_endpoint = [t for t, pk in got if pk == endpoint.pk]
    assert per_endpoint == [
        "endpoint.state_changed",
        "endpoint.session_started",
        "endpoint.state_changed",
        "endpoint.session_ended",
    ]
    started = next(b for b in receiver.bodies() if b["type"] == "endpoint.session_started")
    assert started["data"]["imsi"] == imsi
    assert started["data"]["network_event_id"] == "e1"
    assert started["data"]["ip"]
    rejected = next(b for b in receiver.bodies() if b["type"] == "endpoint.session_rejected")
    assert rejected["data"]["reason"]


def test_a_finished_job_writes_job_finished(account, group, receiver, operator):
    add_webhook(account, receiver, types=[EventType.JOB_FINISHED])
    EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    job = jobs.start(
        account=account,
        user=operator,
        action=Action.SUSPEND,
        endpoints=account.endpoints.all(),
    )
    run_queue()

    [body] = receiver.bodies()
    assert body["type"] == "job.finished"
    assert body["data"]["job"]["id"] == job.pk
    assert body["data"]["job"]["state"] == "succeeded"
    assert (body["data"]["job"]["total"], body["data"]["job"]["changed"]) == (1, 1)


def test_a_webhook_never_gets_another_accounts_events(account, other_account, group, receiver):
    theirs_receiver = Receiver().start()
    try:
        add_webhook(account, receiver)
        add_webhook(other_account, theirs_receiver)
        mine = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
        their_group = GroupFactory(account=other_account, vslice__subnet="100.64.0.0/16")
        theirs = EndpointFactory(
            account=other_account, state=State.ACTIVE, primary_group=their_group
        )

        lifecycle.suspend(endpoints=Endpoint.objects.all(), actor=Actor.SYSTEM)
        run_queue()
    finally:
        theirs_receiver.stop()

    assert [b["data"]["endpoint"]["id"] for b in receiver.bodies()] == [mine.pk]
    assert [b["data"]["endpoint"]["id"] for b in theirs_receiver.bodies()] == [theirs.pk]
