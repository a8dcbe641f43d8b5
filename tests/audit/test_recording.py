"""Each audited action writes exactly one row, with the right actor, account and
client address (portal.client_ip, so behind a trusted proxy it is the client's)."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from audit.models import AuditAction, AuditActorKind, AuditEvent
from jobs import services
from jobs.models import Action, Job
from tests.confirming import hidden_fields
from tests.jobs.conftest import make_endpoints

pytestmark = pytest.mark.django_db


def rows(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_a_sign_in_is_one_row_of_the_user_with_the_address(client, operator):
    client.post(reverse("login"), {"username": "op", "password": "pw"}, REMOTE_ADDR="198.51.100.7")

    [row] = rows(AuditAction.SIGN_IN)
    assert (row.actor, row.actor_label, row.actor_kind) == (operator, "op", AuditActorKind.USER)
    assert row.account is None  # a user's event: every account of theirs sees it
    assert row.ip == "198.51.100.7"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_the_address_is_the_clients(client, operator):
    client.post(
        reverse("login"),
        {"username": "op", "password": "pw"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )

    [row] = rows(AuditAction.SIGN_IN)
    assert row.ip == "203.0.113.9"


def test_a_failed_sign_in_is_one_row_on_the_user_tried(client, operator):
    client.post(
        reverse("login"), {"username": "op", "password": "wrong"}, REMOTE_ADDR="198.51.100.8"
    )

    [row] = rows(AuditAction.SIGN_IN_FAILED)
    assert (row.actor, row.target, row.ip) == (operator, "op", "198.51.100.8")
    assert "wrong" not in str(row.details)
    assert not rows(AuditAction.SIGN_IN)


def test_a_failed_sign_in_of_an_unknown_name_has_no_user(client, db):
    client.post(reverse("login"), {"username": "nobody", "password": "x"})

    [row] = rows(AuditAction.SIGN_IN_FAILED)
    assert (row.actor, row.actor_label, row.target) == (None, "nobody", "nobody")


def test_a_bulk_action_is_one_started_row_with_its_job(client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=3, state_sql="'active'")
    client.force_login(operator)
    url = reverse("inventory:endpoint_bulk_suspend")
    page = client.post(url, {"ids": [e.iccid for e in endpoints]})
    assert not rows(AuditAction.BULK_JOB_STARTED)  # the confirmation page changes nothing

    client.post(url, hidden_fields(page), REMOTE_ADDR="192.0.2.44")

    job = Job.objects.get()
    [row] = rows(AuditAction.BULK_JOB_STARTED)
    assert (row.account, row.actor, row.ip) == (account, operator, "192.0.2.44")
    assert row.details == {"job": job.pk, "action": "suspend", "endpoints": 3}


def test_cancelling_a_job_is_one_row(client, account, group, operator):
    endpoints = make_endpoints(account=account, group=group, count=2)
    job = Job.objects.create(account=account, action=Action.SUSPEND, created_by=operator)
    job.total = services._freeze(job, endpoints)
    job.save()
    client.force_login(operator)

    client.post(reverse("jobs:job_cancel", args=[job.pk]), REMOTE_ADDR="192.0.2.45")
    client.post(reverse("jobs:job_cancel", args=[job.pk]))  # already ended: nothing

    [row] = rows(AuditAction.BULK_JOB_CANCELLED)
    assert (row.account, row.actor, row.ip, row.target) == (
        account,
        operator,
        "192.0.2.45",
        f"job {job.pk}",
    )


def test_a_rule_called_without_a_request_records_the_system(account):
    import audit
    from audit.events import AuditActor

    system = audit.record(action=AuditAction.ACTIVATION, account=account)
    token = audit.record(
        action=AuditAction.WEBHOOK_CREATED, account=account, actor=AuditActor.api_token("ci")
    )

    assert (system.actor_kind, system.actor_label, system.ip) == ("system", "system", None)
    assert (token.actor_kind, token.actor_label) == ("api_token", "ci")


def test_an_unknown_action_fails_loudly(account):
    import audit

    with pytest.raises(ValueError):
        audit.record(action="made_up", account=account)
    assert not AuditEvent.objects.exists()


def test_support_changing_a_membership_in_admin_is_audited_as_staff(
    client, account, operator, admin_member
):
    from portal.models import Member, Role
    from tests.factories import UserFactory

    staff = UserFactory(username="support", is_staff=True, is_superuser=True)
    member = Member.objects.get(user=operator)
    client.force_login(staff)

    response = client.post(
        reverse("admin:portal_member_change", args=[member.pk]),
        {"user": operator.pk, "account": account.pk, "role": Role.ADMIN},
        REMOTE_ADDR="192.0.2.60",
    )
    assert response.status_code == 302
    client.post(reverse("admin:portal_member_delete", args=[member.pk]), {"post": "yes"})

    [changed] = rows(AuditAction.MEMBER_ROLE_CHANGED)
    assert (changed.account, changed.actor, changed.actor_kind, changed.ip, changed.target) == (
        account,
        staff,
        AuditActorKind.STAFF,
        "192.0.2.60",
        "op",
    )
    assert changed.details == {"from": "operator", "to": "admin"}
    [removed] = rows(AuditAction.MEMBER_REMOVED)
    assert (removed.account, removed.target, removed.details) == (account, "op", {"role": "admin"})


def test_support_changing_a_role_in_the_accounts_inline_is_audited(client, account, operator):
    from portal.models import Member, Role
    from tests.factories import UserFactory

    staff = UserFactory(username="support", is_staff=True, is_superuser=True)
    member = Member.objects.get(user=operator)
    client.force_login(staff)

    response = client.post(
        reverse("admin:portal_account_change", args=[account.pk]),
        {
            "name": account.name,
            "members-TOTAL_FORMS": "1",
            "members-INITIAL_FORMS": "1",
            "members-MIN_NUM_FORMS": "0",
            "members-MAX_NUM_FORMS": "1000",
            "members-0-id": member.pk,
            "members-0-account": account.pk,
            "members-0-user": operator.pk,
            "members-0-role": Role.VIEWER,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    [changed] = rows(AuditAction.MEMBER_ROLE_CHANGED)
    assert (changed.actor, changed.target, changed.details) == (
        staff,
        "op",
        {"from": "operator", "to": "viewer"},
    )
