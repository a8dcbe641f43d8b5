"""SSRF at delivery: DNS may have changed since the URL was saved, and a
redirect (to the metadata service, say) is never followed."""

from __future__ import annotations

import pytest

from inventory import lifecycle
from inventory.history import Actor
from inventory.models import State
from tests.factories import EndpointFactory
from tests.webhooks.conftest import add_webhook, run_queue
from tests.webhooks.receiver import Receiver
from webhooks.models import Attempt, Lane

pytestmark = pytest.mark.django_db(transaction=True)


def suspend_one(account, group):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
    return endpoint


def test_an_address_refused_at_delivery_is_not_called(account, group, receiver, settings):
    add_webhook(account, receiver)
    settings.WEBHOOK_ALLOWED_NETWORKS = ""  # what was allowed when saved is not any more
    suspend_one(account, group)
    run_queue()

    assert receiver.requests == 0
    attempt = Attempt.objects.get()
    assert not attempt.ok and attempt.status_code is None
    assert attempt.error == "address_refused"
    assert Lane.objects.filter(failures=1).count() == 1


def test_a_redirect_is_not_followed(account, group, receiver):
    metadata = Receiver().start()  # where the redirect points: reachable, allowed
    try:
        receiver.status = lambda body: 302
        receiver.redirect_to = metadata.url
        add_webhook(account, receiver)
        suspend_one(account, group)
        run_queue()
    finally:
        metadata.stop()

    assert receiver.requests == 1
    assert metadata.requests == 0
    attempt = Attempt.objects.get()
    assert (attempt.status_code, attempt.ok) == (302, False)
    assert (attempt.status_code, attempt.error) == (302, "redirect")
