"""API tokens and what tokens do in the audit log: a token created or revoked on
the API tokens page is one row by the admin; a bulk job a token starts or
cancels is one row naming the token, with the client's address."""

from __future__ import annotations

import pytest
from django.urls import reverse

import jobs.services
from api.models import ApiToken
from audit.models import AuditAction, AuditActorKind, AuditEvent
from inventory.models import State
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory

IP = {"REMOTE_ADDR": "192.0.2.80"}


def rows(action):
    return list(AuditEvent.objects.filter(action=action))


@pytest.mark.django_db
def test_creating_and_revoking_a_token_is_audited(client, account, admin_member):
    client.force_login(admin_member)

    client.post(reverse("api_tokens:token_list"), {"name": "ci", "role": "viewer"}, **IP)
    token = ApiToken.objects.get(name="ci")
    client.post(reverse("api_tokens:token_revoke", args=[token.pk]), **IP)
    client.post(reverse("api_tokens:token_revoke", args=[token.pk]))  # already revoked

    [created] = rows(AuditAction.API_TOKEN_CREATED)
    assert (created.account, created.actor, created.ip, created.target) == (
        account,
        admin_member,
        "192.0.2.80",
        "ci",
    )
    assert created.details == {"token": token.pk, "role": "viewer"}
    [revoked] = rows(AuditAction.API_TOKEN_REVOKED)
    assert (revoked.actor, revoked.target) == (admin_member, "ci")


@pytest.mark.django_db(transaction=True)
def test_a_job_a_token_starts_and_cancels_names_the_token(account, group, monkeypatch):
    EndpointFactory.create_batch(6, account=account, state=State.ACTIVE, primary_group=group)
    token, plain = make_token(account, Role.OPERATOR, name="fleet-bot")
    api = ApiClient(plain)
    monkeypatch.setattr(jobs.services, "INLINE_LIMIT", 5)

    job = api.post("/api/v1/bulk/suspend", {"filter": {"state": ["active"]}}).json()
    api.post(f"/api/v1/jobs/{job['id']}/cancel")

    for action in (AuditAction.BULK_JOB_STARTED, AuditAction.BULK_JOB_CANCELLED):
        [row] = rows(action)
        assert (row.account, row.actor, row.actor_kind, row.actor_label, row.ip) == (
            account,
            None,
            AuditActorKind.API_TOKEN,
            "api:fleet-bot",
            "127.0.0.1",  # the test client's address: the request was passed along
        )
