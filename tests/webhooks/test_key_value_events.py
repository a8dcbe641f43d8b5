"""``endpoint.key_values_changed``: one event per changed endpoint, written with
the change, for one endpoint's edit and for a bulk "Set key value" chunk;
nothing for an endpoint that was skipped."""

from __future__ import annotations

import pytest

from events.models import AccountEvent, EventType
from inventory import key_values
from inventory.history import Actor
from inventory.models import State
from tests.factories import EndpointFactory
from tests.webhooks.conftest import add_webhook, run_queue

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_endpoints_key_values_change_is_an_event(account, group, receiver, operator):
    add_webhook(account, receiver, types=[EventType.KEY_VALUES_CHANGED])
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    key_values.change_key_values(
        endpoint=endpoint, actor=Actor.for_user(operator), pairs={"depot": "north"}, replace=False
    )
    run_queue()

    [body] = receiver.bodies()
    assert body["type"] == "endpoint.key_values_changed"
    assert body["data"]["endpoint"] == {"id": endpoint.pk, "iccid": endpoint.iccid}
    assert body["data"]["changes"] == {"depot": [None, "north"]}
    assert body["data"]["actor"] == {"kind": "user", "label": operator.get_username()}


def test_a_bulk_set_writes_one_event_per_changed_endpoint(account, group, receiver):
    add_webhook(account, receiver, types=[EventType.KEY_VALUES_CHANGED])
    changed = EndpointFactory.create_batch(
        3, account=account, state=State.ACTIVE, primary_group=group
    )
    terminated = EndpointFactory(account=account, state=State.SUSPENDED, primary_group=group)
    key_values.change_key_values(
        endpoint=terminated, actor=Actor.SYSTEM, pairs={"depot": "south"}, replace=False
    )
    AccountEvent.objects.all().delete()

    result = key_values.set_key_value(
        endpoint_ids=[e.pk for e in [*changed, terminated]],
        account_id=account.pk,
        key="depot",
        value="south",
        actor=Actor.SYSTEM,
    )

    assert result.changed == 3  # the fourth already had the value
    events = AccountEvent.objects.order_by("pk")
    assert [event.endpoint_id for event in events] == [e.pk for e in changed]
    assert all(event.payload["changes"] == {"depot": [None, "south"]} for event in events)
    assert events[0].payload["endpoint"]["iccid"] == changed[0].iccid


def test_no_webhook_the_event_is_only_logged(account, group, django_capture_on_commit_callbacks):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    with django_capture_on_commit_callbacks() as callbacks:
        key_values.change_key_values(
            endpoint=endpoint, actor=Actor.SYSTEM, pairs={"depot": "x"}, replace=False
        )
    assert list(AccountEvent.objects.values_list("type", flat=True)) == [
        "endpoint.key_values_changed"
    ]
    assert callbacks == []


def test_an_activation_is_a_state_change(account, receiver, operator):
    from inventory import activation, activation_codes
    from inventory.models import StockSim

    add_webhook(account, receiver, types=[EventType.STATE_CHANGED])
    StockSim.objects.create(
        iccid="8944990000000000011",
        imsis=["234159900000001"],
        code_hash=activation_codes.make_hash("VANTIQOK1"),
    )
    endpoint = activation.activate(
        account=account,
        actor=Actor.for_user(operator),
        iccid="8944990000000000011",
        code="vantiq-ok1",
    )
    run_queue()

    [body] = receiver.bodies()
    assert body["type"] == "endpoint.state_changed"
    assert body["data"]["endpoint"] == {"id": endpoint.pk, "iccid": "8944990000000000011"}
    assert (body["data"]["from_state"], body["data"]["to_state"]) == (None, "pending")
    assert body["data"]["action"] == "activated"
