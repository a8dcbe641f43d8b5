"""Account → Members: admins only; change a role (it applies on the member's
next request), remove a member; the last admin is never demoted or removed,
also when two admins demote each other at the same moment; each change is one
audit row."""

from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from portal.models import Member, Role
from team import members
from team.models import Invitation
from tests.factories import MemberFactory

LIST = reverse("team:member_list")


def role_url(member: Member) -> str:
    return reverse("team:member_role", args=[member.pk])


def remove_url(member: Member) -> str:
    return reverse("team:member_remove", args=[member.pk])


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    return client


def audit_rows(action):
    return list(AuditEvent.objects.filter(action=action))


@pytest.mark.django_db
def test_the_page_lists_the_team_and_pending_invitations(
    admin_client, account, other_account, operator, admin_member, django_assert_max_num_queries
):
    MemberFactory(account=other_account, user__username="nw-only")
    Invitation.objects.create(account=account, email="soon@vantiq.example", invited_by=admin_member)

    with django_assert_max_num_queries(8):
        body = admin_client.get(LIST).content.decode()

    assert "op" in body and "adm" in body and "soon@vantiq.example" in body
    assert "nw-only" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["operator", "viewer"])
def test_below_admin_is_refused_everything(client, request, who, account, admin_member):
    client.force_login(request.getfixturevalue(who))
    target = Member.objects.get(user=admin_member)

    refused = client.get(LIST)
    assert refused.status_code == 403
    assert "Only account admins may open this page." in refused.content.decode()
    assert client.post(reverse("team:member_invite"), {"email": "x@y.example"}).status_code == 403
    assert client.post(role_url(target), {"role": "viewer"}).status_code == 403
    assert client.post(remove_url(target)).status_code == 403
    assert Member.objects.get(pk=target.pk).role == Role.ADMIN and not mail.outbox


@pytest.mark.django_db
def test_a_role_change_applies_on_the_next_request_and_is_audited(
    admin_client, account, operator, admin_member
):
    member = Member.objects.get(user=operator)
    theirs = Client()
    theirs.force_login(operator)
    assert theirs.get(reverse("audit:audit_log")).status_code == 403

    response = admin_client.post(role_url(member), {"role": "admin"}, REMOTE_ADDR="192.0.2.30")

    assert response.status_code == 302
    assert theirs.get(reverse("audit:audit_log")).status_code == 200
    [row] = audit_rows(AuditAction.MEMBER_ROLE_CHANGED)
    assert (row.account, row.actor, row.ip, row.target) == (
        account,
        admin_member,
        "192.0.2.30",
        "op",
    )
    assert row.details == {"from": "operator", "to": "admin"}

    admin_client.post(role_url(member), {"role": "viewer"})
    assert theirs.get(reverse("audit:audit_log")).status_code == 403
    assert theirs.post(reverse("jobs:job_cancel", args=[1])).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["owner", "", "ADMIN"])
def test_a_bad_role_is_explained(admin_client, operator, role):
    member = Member.objects.get(user=operator)
    response = admin_client.post(role_url(member), {"role": role}, follow=True)
    assert "Choose one of the roles" in response.content.decode()
    assert Member.objects.get(pk=member.pk).role == Role.OPERATOR


@pytest.mark.django_db
def test_the_last_admin_cannot_be_demoted_or_removed(admin_client, account, admin_member):
    me = Member.objects.get(user=admin_member)

    demoted = admin_client.post(role_url(me), {"role": "operator"}, follow=True)
    removed = admin_client.post(remove_url(me), follow=True)

    assert "at least one admin" in demoted.content.decode()
    assert "at least one admin" in removed.content.decode()
    assert Member.objects.get(pk=me.pk).role == Role.ADMIN
    assert not audit_rows(AuditAction.MEMBER_ROLE_CHANGED)
    assert not audit_rows(AuditAction.MEMBER_REMOVED)


@pytest.mark.django_db
def test_removing_asks_first_then_removes_and_audits(admin_client, account, operator, admin_member):
    member = Member.objects.get(user=operator)

    page = admin_client.get(remove_url(member))
    assert "Remove op from Vantiq Connect?" in page.content.decode()
    assert Member.objects.filter(pk=member.pk).exists()

    admin_client.post(remove_url(member), REMOTE_ADDR="192.0.2.31")

    assert not Member.objects.filter(pk=member.pk).exists()
    [row] = audit_rows(AuditAction.MEMBER_REMOVED)
    assert (row.account, row.actor, row.ip, row.target) == (
        account,
        admin_member,
        "192.0.2.31",
        "op",
    )
    theirs = Client()
    theirs.force_login(operator)
    assert theirs.get(reverse("inventory:endpoint_list")).status_code == 403  # no account left


@pytest.mark.django_db
def test_an_admin_may_step_down_when_another_admin_remains(admin_client, account, admin_member):
    MemberFactory(account=account, role=Role.ADMIN)
    me = Member.objects.get(user=admin_member)

    response = admin_client.post(role_url(me), {"role": "viewer"})

    assert response["Location"] == reverse("home")
    assert Member.objects.get(pk=me.pk).role == Role.VIEWER


@pytest.mark.django_db
def test_another_accounts_member_is_a_404(admin_client, other_account):
    theirs = MemberFactory(account=other_account, role=Role.ADMIN)
    invitation = Invitation.objects.create(account=other_account, email="n@w.example")

    assert admin_client.post(role_url(theirs), {"role": "viewer"}).status_code == 404
    assert admin_client.get(remove_url(theirs)).status_code == 404
    assert admin_client.post(remove_url(theirs)).status_code == 404
    withdraw = reverse("team:invitation_withdraw", args=[invitation.pk])
    assert admin_client.post(withdraw).status_code == 404
    assert Member.objects.get(pk=theirs.pk).role == Role.ADMIN
    assert Invitation.objects.filter(pk=invitation.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["demote", "remove"])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(account, second, monkeypatch):
    first = MemberFactory(account=account, role=Role.ADMIN)
    other = MemberFactory(account=account, role=Role.ADMIN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    class Request:  # what audit.record reads of a request
        META = {"REMOTE_ADDR": "192.0.2.40"}

        def __init__(self, user):
            self.user = user

    def act(target: Member, by: Member, how: str) -> None:
        try:
            barrier.wait(timeout=5)
            if how == "demote":
                members.change_role(member=target, role=Role.VIEWER, request=Request(by.user))
            else:
                members.remove(member=target, request=Request(by.user))
            outcomes.append("done")
        except members.LastAdminError:
            outcomes.append("refused")
        finally:
            close_old_connections()

    # Whoever locks the admin rows first holds them a while: without the lock both
    # would count two admins and both go ahead.
    original = members._locked_admins

    def slow_locked_admins(account_id):
        locked = original(account_id)
        time.sleep(0.3)
        return locked

    monkeypatch.setattr(members, "_locked_admins", slow_locked_admins)
    threads = [
        threading.Thread(target=act, args=(first, other, "demote")),
        threading.Thread(target=act, args=(other, first, second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(outcomes) == ["done", "refused"]
    assert Member.objects.filter(account=account, role=Role.ADMIN).count() == 1
    assert (
        AuditEvent.objects.filter(
            action__in=[AuditAction.MEMBER_ROLE_CHANGED, AuditAction.MEMBER_REMOVED]
        ).count()
        == 1
    )
