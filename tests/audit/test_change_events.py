"""Webhook changes, activations and the API's edits of endpoints in the audit
log: one row each, naming the portal user (with the address) or the API token;
reads write nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditActorKind, AuditEvent
from inventory import activation_codes
from inventory.models import StockSim
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory
from webhooks.models import Webhook

IP = {"REMOTE_ADDR": "192.0.2.81"}
HOOK = "http://127.0.0.1:9/hook"  # loopback: allowed in the test settings


def rows(action):
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


@pytest.mark.django_db
def test_webhook_changes_in_the_portal(client, account, admin_member):
    client.force_login(admin_member)
    client.post(
        reverse("webhooks:webhook_create"),
        {"url": HOOK, "event_types": ["job.finished"], "enabled": "on"},
        **IP,
    )
    webhook = Webhook.objects.get()
    client.post(
        reverse("webhooks:webhook_edit", args=[webhook.pk]),
        {"url": HOOK, "event_types": ["job.finished"], "description": "ops"},
        **IP,
    )
    client.post(reverse("webhooks:webhook_rotate", args=[webhook.pk]), **IP)
    client.post(reverse("webhooks:webhook_delete", args=[webhook.pk]), **IP)

    [created] = rows(AuditAction.WEBHOOK_CREATED)
    assert (created.account, created.actor, created.ip, created.target) == (
        account,
        admin_member,
        "192.0.2.81",
        HOOK,
    )
    changed, rotated = rows(AuditAction.WEBHOOK_CHANGED)
    assert changed.details["changes"]["description"] == ["", "ops"]
    assert changed.details["changes"]["enabled"] == [True, False]
    assert rotated.details["secret"] == "rotated" and "whsec" not in str(rotated.details)
    [deleted] = rows(AuditAction.WEBHOOK_DELETED)
    assert deleted.details["webhook"] == webhook.pk


@pytest.mark.django_db
def test_webhook_changes_through_the_api_name_the_token(account):
    client = ApiClient(make_token(account, Role.ADMIN, name="ops-bot")[1])
    created = client.post("/api/v1/webhooks", {"url": HOOK, "event_types": ["job.finished"]})
    assert created.status_code == 201, created.content
    client.delete(f"/api/v1/webhooks/{created.json()['id']}")
    for action in (AuditAction.WEBHOOK_CREATED, AuditAction.WEBHOOK_DELETED):
        [row] = rows(action)
        assert (row.actor_kind, row.actor_label, row.actor) == (
            AuditActorKind.API_TOKEN,
            "api:ops-bot",
            None,
        )


@pytest.mark.django_db
def test_an_api_edit_is_audited_and_a_read_is_not(account):
    endpoint = EndpointFactory(account=account)
    client = ApiClient(make_token(account, Role.OPERATOR, name="sync")[1])
    client.get(f"/api/v1/endpoints/{endpoint.iccid}")
    client.get("/api/v1/endpoints")
    assert not AuditEvent.objects.exists()
    client.patch(f"/api/v1/endpoints/{endpoint.iccid}", {"name": "truck-9", "tags": ["eu"]})
    [row] = rows(AuditAction.ENDPOINT_EDITED)
    assert (row.account, row.actor_label, row.target) == (account, "api:sync", endpoint.iccid)
    assert row.details == {"fields": ["name", "tags"]}
    client.patch(f"/api/v1/endpoints/{endpoint.iccid}", {"tags": ["not a tag!"]})
    assert len(rows(AuditAction.ENDPOINT_EDITED)) == 1  # a refused edit writes nothing


@pytest.mark.django_db
def test_activations_are_audited_without_saying_why_one_failed(client, account, operator):
    StockSim.objects.create(
        iccid="8944990000000000011", imsis=[], code_hash=activation_codes.make_hash("VANTIQOK1")
    )
    client.force_login(operator)
    url = reverse("inventory:activate")
    client.post(url, {"iccid": "8944990000000000011", "code": "WRONGCODE1"}, **IP)
    client.post(url, {"iccid": "8944990000000000011", "code": "VANTIQOK1"}, **IP)

    refused, activated = rows(AuditAction.ACTIVATION)
    assert refused.details == {"result": "refused"}
    assert (activated.details, activated.actor, activated.ip, activated.target) == (
        {"result": "activated"},
        operator,
        "192.0.2.81",
        "8944990000000000011",
    )
