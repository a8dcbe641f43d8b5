"""A member's own rows (sign-ins, addresses, two-factor: the rows of no account)
are shown to an account's admins only from the moment the person joined that
account: on the audit log page and in its export. The account's own rows are
not affected, nor another account the person joined earlier."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

import audit
from audit.models import AuditAction, AuditEvent
from portal.models import Member, Role
from tests.confirming import text
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

LOG = reverse("audit:audit_log")
EXPORT = reverse("audit:audit_export")


def personal(action, user, ip, days_ago: float) -> AuditEvent:
    row = audit.record(action=action, account=None, actor=user, ip=ip)
    AuditEvent.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    return row


def export(client) -> str:
    return b"".join(client.get(EXPORT).streaming_content).decode()


def test_a_new_members_earlier_rows_are_not_shown(client, account, other_account, admin_member):
    newcomer = UserFactory(username="newcomer")
    # Their life before this account: a member of another for a month.
    Member.objects.create(
        user=newcomer,
        account=other_account,
        role=Role.VIEWER,
        joined_at=timezone.now() - timedelta(days=30),
    )
    personal(AuditAction.SIGN_IN, newcomer, "203.0.113.7", days_ago=3)
    personal(AuditAction.MFA_ENABLED, newcomer, "203.0.113.8", days_ago=2)
    joined = MemberFactory(account=account, user=newcomer, role=Role.OPERATOR)
    personal(AuditAction.SIGN_IN, newcomer, "198.51.100.9", days_ago=0)
    audit.record(
        action=AuditAction.MEMBER_JOINED, account=account, actor=newcomer, target="newcomer"
    )
    client.force_login(admin_member)

    page, csv = text(client.get(LOG)), export(client)

    for shown in (page, csv):
        assert "198.51.100.9" in shown  # signed in after joining
        assert "203.0.113.7" not in shown and "203.0.113.8" not in shown
        assert "Member joined" in shown
    # The account they were in before still sees all of it.
    other_admin = MemberFactory(account=other_account, role=Role.ADMIN).user
    client.force_login(other_admin)
    theirs = text(client.get(LOG))
    assert "203.0.113.7" in theirs and "203.0.113.8" in theirs
    # Once joined, the rows stay visible from that moment on, day filters too.
    client.force_login(admin_member)
    today = timezone.now().date().isoformat()
    assert "198.51.100.9" in text(client.get(LOG, {"since": today, "actor": "newcomer"}))
    assert joined.joined_at <= timezone.now()


def test_rejoining_starts_again_from_the_new_membership(client, account, admin_member):
    person = UserFactory(username="returning")
    first = MemberFactory(account=account, user=person, role=Role.VIEWER)
    Member.objects.filter(pk=first.pk).update(joined_at=timezone.now() - timedelta(days=20))
    personal(AuditAction.SIGN_IN, person, "203.0.113.20", days_ago=10)
    client.force_login(admin_member)
    assert "203.0.113.20" in text(client.get(LOG))

    Member.objects.filter(pk=first.pk).delete()
    personal(AuditAction.SIGN_IN, person, "203.0.113.21", days_ago=5)
    MemberFactory(account=account, user=person, role=Role.VIEWER)

    page = text(client.get(LOG))
    assert "203.0.113.20" not in page and "203.0.113.21" not in page
