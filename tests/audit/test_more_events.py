"""The audit rows of: group create / change / delete (portal and API), a token
made by ``manage.py create_api_token``, tokens revoked in Django admin, a
webhook's test event and redelivery (portal and API), and password-reset
requests. Each by the right actor, from the right address, in the right
account (docs/audit-log.md)."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from api.models import ApiToken, RevokedBecause
from audit.models import AuditAction, AuditActorKind, AuditEvent
from events.models import AccountEvent, EventType
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import UserFactory
from tests.portal.test_auth_and_accounts import webhook_of
from webhooks.models import Attempt, AttemptKind

pytestmark = pytest.mark.django_db

IP = "192.0.2.77"


def rows(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    return client


def test_group_changes_in_the_portal(admin_client, account, group):
    data = {"name": "fleet-new", "apn": "new.apn", "warning_percent": "80"}
    admin_client.post(
        reverse("inventory:group_create"), {**data, "vslice": group.vslice_id}, REMOTE_ADDR=IP
    )
    created = group.account.groups.get(name="fleet-new")
    admin_client.post(
        reverse("inventory:group_edit", args=[created.pk]),
        {**data, "apn": "other.apn", "vslice": group.vslice_id},
        REMOTE_ADDR=IP,
    )
    admin_client.post(reverse("inventory:group_delete", args=[created.pk]), REMOTE_ADDR=IP)

    [made] = rows(AuditAction.GROUP_CREATED)
    [changed] = rows(AuditAction.GROUP_CHANGED)
    [deleted] = rows(AuditAction.GROUP_DELETED)
    for row in (made, changed, deleted):
        assert (row.account, row.actor_label, row.actor_kind, row.ip, row.target) == (
            account,
            "adm",
            AuditActorKind.USER,
            IP,
            "fleet-new",
        )
    assert made.details["apn"] == "new.apn"
    assert changed.details["changes"] == {"apn": ["new.apn", "other.apn"]}


def test_a_refused_group_change_writes_no_row(admin_client, group):
    admin_client.post(
        reverse("inventory:group_create"),
        {"name": group.name, "apn": "a.b", "warning_percent": "80", "vslice": group.vslice_id},
    )
    assert not rows(AuditAction.GROUP_CREATED)


def test_group_changes_through_the_api(account, group):
    api = ApiClient(make_token(account, Role.ADMIN, name="ci")[1])
    body = {"name": "api-group", "vslice": group.vslice.name, "apn": "api.apn"}
    assert api.post("/api/v1/groups", body, REMOTE_ADDR=IP).status_code == 201
    assert api.patch("/api/v1/groups/api-group", {"apn": "x.apn"}).status_code == 200
    assert api.delete("/api/v1/groups/api-group").status_code == 204

    made, changed, deleted = (
        rows(AuditAction.GROUP_CREATED)[0],
        rows(AuditAction.GROUP_CHANGED)[0],
        rows(AuditAction.GROUP_DELETED)[0],
    )
    for row in (made, changed, deleted):
        assert (row.account, row.actor_kind, row.actor_label, row.target) == (
            account,
            AuditActorKind.API_TOKEN,
            "api:ci",
            "api-group",
        )


def test_a_token_made_by_the_command_is_audited(account):
    call_command(
        "create_api_token",
        "erp-sync",
        account=account.slug,
        role="operator",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    [row] = rows(AuditAction.API_TOKEN_CREATED)
    token = ApiToken.objects.get(name="erp-sync")
    assert (row.account, row.actor_kind, row.target) == (
        account,
        AuditActorKind.SYSTEM,
        "erp-sync",
    )
    assert row.details == {"token": token.pk, "role": "operator", "by": "create_api_token"}


def test_tokens_revoked_in_django_admin_are_audited(client, account, other_account):
    staff = UserFactory(username="support-staff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    ours, _ = make_token(account, Role.VIEWER, name="ours")
    theirs, _ = make_token(other_account, Role.VIEWER, name="theirs")
    make_token(account, Role.VIEWER, name="kept")

    client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [ours.pk, theirs.pk]},
        REMOTE_ADDR=IP,
    )

    revoked = rows(AuditAction.API_TOKEN_REVOKED)
    assert sorted((r.account.slug, r.target, r.actor_kind, r.ip) for r in revoked) == [
        ("northwind", "theirs", AuditActorKind.STAFF, IP),
        ("vantiq", "ours", AuditActorKind.STAFF, IP),
    ]
    assert {r.details["reason"] for r in revoked} == {"support"}
    ours.refresh_from_db()
    assert ours.revoked_because == RevokedBecause.SUPPORT
    # Revoking again changes nothing and writes nothing.
    client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [ours.pk]},
    )
    assert len(rows(AuditAction.API_TOKEN_REVOKED)) == 2


def test_webhook_test_and_redelivery_in_the_portal(admin_client, account):
    webhook = webhook_of(account.pk)
    admin_client.post(reverse("webhooks:webhook_test", args=[webhook.pk]), REMOTE_ADDR=IP)
    event = AccountEvent.objects.get(type=EventType.TEST)
    Attempt.objects.create(webhook=webhook, event=event, kind=AttemptKind.TEST, status_code=500)
    admin_client.post(reverse("webhooks:webhook_redeliver", args=[webhook.pk]), {"event": event.pk})

    [tested] = rows(AuditAction.WEBHOOK_TESTED)
    [redelivered] = rows(AuditAction.WEBHOOK_REDELIVERED)
    assert (tested.account, tested.actor_label, tested.ip, tested.target) == (
        account,
        "adm",
        IP,
        webhook.url,
    )
    assert tested.details == {"webhook": webhook.pk, "event": event.webhook_id}
    assert (redelivered.account, redelivered.details["event"]) == (account, event.webhook_id)


def test_webhook_test_through_the_api(account):
    webhook = webhook_of(account.pk)
    api = ApiClient(make_token(account, Role.ADMIN, name="ops")[1])

    assert api.post(f"/api/v1/webhooks/{webhook.pk}/test").status_code == 202

    [row] = rows(AuditAction.WEBHOOK_TESTED)
    assert (row.account, row.actor_kind, row.actor_label) == (
        account,
        AuditActorKind.API_TOKEN,
        "api:ops",
    )


def test_password_reset_requests_are_audited(client, account, operator):
    operator.email = "op@vantiq.example"
    operator.save()

    client.post(reverse("password_reset"), {"email": "op@vantiq.example"}, REMOTE_ADDR=IP)
    client.post(reverse("password_reset"), {"email": "nobody@vantiq.example"}, REMOTE_ADDR=IP)

    known, unknown = rows(AuditAction.PASSWORD_RESET_REQUESTED)
    assert (known.account, known.actor, known.ip, known.target, known.details) == (
        None,
        operator,
        IP,
        "op@vantiq.example",
        {"mailed": True},
    )
    # An address no user has: no actor, so only staff see it.
    assert (unknown.actor, unknown.actor_label, unknown.target) == (
        None,
        "",
        "nobody@vantiq.example",
    )
    assert len(mail.outbox) == 1
