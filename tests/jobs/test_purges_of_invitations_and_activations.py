"""Expired invitations and old refused activations are purged daily by the
worker (periodic tasks) and by their commands, set-based; what is still live
stays."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from procrastinate.contrib.django import app

from inventory.models import ActivationBlock, ActivationFailure
from jobs import tasks as job_tasks
from portal.models import Role
from team import tasks as team_tasks
from team.models import Invitation

pytestmark = pytest.mark.django_db


def periodic() -> dict[str, str]:
    return {pt.task.name: pt.cron for pt in app.periodic_registry.periodic_tasks.values()}


def test_both_purges_are_daily_tasks_of_the_worker():
    crons = periodic()
    for name in ("team.purge_invitations", "inventory.purge_activation_failures"):
        minute, hour, *rest = crons[name].split()
        assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"], name


def invitations(account, admin_member):
    now = timezone.now()
    made = {}
    for email, age, accepted in [
        ("expired@x.example", timedelta(hours=25), False),
        ("live@x.example", timedelta(hours=23), False),
        ("accepted@x.example", timedelta(days=40), True),
    ]:
        invitation = Invitation.objects.create(
            account=account, email=email, role=Role.VIEWER, invited_by=admin_member
        )
        Invitation.objects.filter(pk=invitation.pk).update(
            created_at=now - age,
            accepted_at=now - age + timedelta(hours=1) if accepted else None,
        )
        made[email] = invitation
    return made


def test_expired_invitations_go_live_and_accepted_ones_stay(account, admin_member):
    invitations(account, admin_member)

    team_tasks.purge_invitations(timestamp=0)

    assert sorted(Invitation.objects.values_list("email", flat=True)) == [
        "accepted@x.example",
        "live@x.example",
    ]


def test_the_invitation_command_counts_then_deletes(account, admin_member):
    invitations(account, admin_member)
    out = StringIO()

    call_command("purge_invitations", "--dry-run", stdout=out)
    assert "Would delete 1 expired invitations." in out.getvalue()
    assert Invitation.objects.count() == 3
    call_command("purge_invitations", stdout=out)

    assert "Deleted 1 expired invitations." in out.getvalue()
    assert Invitation.objects.count() == 2


def activation_rows(account):
    now = timezone.now()
    for n, days in enumerate([31, 29]):
        ActivationFailure.objects.create(
            who=f"user:{n}", account=account, at=now - timedelta(days=days), iccid=f"old{n}"
        )
    ActivationBlock.objects.create(
        who="account:1", at=now - timedelta(days=32), until=now - timedelta(days=31)
    )
    ActivationBlock.objects.create(who="ip:192.0.2.1", at=now, until=now + timedelta(hours=1))


def test_old_activation_failures_and_ended_blocks_go(account):
    activation_rows(account)

    job_tasks.purge_activation_failures(timestamp=0)

    assert list(ActivationFailure.objects.values_list("iccid", flat=True)) == ["old1"]
    assert list(ActivationBlock.objects.values_list("who", flat=True)) == ["ip:192.0.2.1"]


def test_the_activation_command_counts_then_deletes(account):
    activation_rows(account)
    out = StringIO()

    call_command("purge_activation_failures", "--dry-run", stdout=out)
    assert "Would delete 1 activation failures older than 30 days." in out.getvalue()
    assert ActivationFailure.objects.count() == 2
    call_command("purge_activation_failures", "--days", "10", stdout=out)

    assert "Deleted 2 activation failures older than 10 days." in out.getvalue()
    assert "Deleted 1 activation blocks older than 10 days." in out.getvalue()
