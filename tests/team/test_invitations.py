"""Inviting by e-mail and accepting: the link is signed, works once and for 24
hours; a new user sets a username and password, an existing user accepts
signed in as the invited address; signed in as someone else it is refused."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from portal.models import Member, Role
from team import invitations
from team.models import Invitation
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

LIST = reverse("team:member_list")
INVITE = reverse("team:member_invite")


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    return client


def invite(client, email="new.person@vantiq.example", role="operator", **extra):
    return client.post(INVITE, {"email": email, "role": role}, **extra)


def link_in(message) -> str:
    return re.search(r"http://testserver(/invitation/[^/\s]+/)", message.body).group(1)


def audit_rows(action):
    return list(AuditEvent.objects.filter(action=action))


def test_an_invitation_is_mailed_with_its_link_and_audited(admin_client, account, admin_member):
    response = invite(admin_client, REMOTE_ADDR="192.0.2.10")

    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["new.person@vantiq.example"]
    assert "Vantiq Connect" in message.subject and "24 hours" in message.body
    assert link_in(message)
    invitation = Invitation.objects.get()
    assert (invitation.account, invitation.role, invitation.invited_by) == (
        account,
        Role.OPERATOR,
        admin_member,
    )
    [row] = audit_rows(AuditAction.MEMBER_INVITED)
    assert (row.account, row.actor, row.ip, row.target) == (
        account,
        admin_member,
        "192.0.2.10",
        "new.person@vantiq.example",
    )
    assert "new.person@vantiq.example" in admin_client.get(LIST).content.decode()


def test_inviting_an_existing_member_is_refused(admin_client, account):
    MemberFactory(account=account, user__username="there", user__email="there@vantiq.example")

    response = invite(admin_client, email="THERE@vantiq.example")

    assert response.status_code == 200
    assert "is already a member of this account" in response.content.decode()
    assert not mail.outbox and not Invitation.objects.exists()
    assert not audit_rows(AuditAction.MEMBER_INVITED)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "role": "viewer"}, "Enter a valid email address"),
        ({"email": "a@b.example", "role": "owner"}, "Select a valid choice"),
        ({"email": "a\x00@b.example", "role": "viewer"}, "Null characters are not allowed"),
    ],
)
def test_a_bad_invitation_is_explained(admin_client, data, message):
    response = admin_client.post(INVITE, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Invitation.objects.exists() and not mail.outbox


def test_inviting_again_replaces_the_old_link(admin_client, client):
    invite(admin_client)
    invite(admin_client, role="admin")
    old, new = (link_in(m) for m in mail.outbox)

    assert Invitation.objects.get().role == Role.ADMIN
    admin_client.logout()
    assert "withdrawn or replaced" in client.get(old).content.decode()
    assert client.get(new).status_code == 200


def test_a_new_user_joins_with_a_username_and_password(admin_client, client, account):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    admin_client.logout()

    page = client.get(link)
    assert "Choose a username and a password" in page.content.decode()
    response = client.post(
        link,
        {"username": "newbie", "password1": "a-long-pass-9", "password2": "a-long-pass-9"},
        REMOTE_ADDR="192.0.2.20",
    )

    assert response.status_code == 302
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "new.person@vantiq.example" and user.check_password("a-long-pass-9")
    assert Member.objects.get(user=user).role == Role.OPERATOR
    assert client.session[USER_SESSION_KEY] == str(user.pk)
    assert "Vantiq Connect" in client.get(response["Location"], follow=True).content.decode()
    invitation = Invitation.objects.get()
    assert invitation.accepted_by == user and invitation.accepted_at
    [row] = audit_rows(AuditAction.MEMBER_JOINED)
    assert (row.account, row.actor, row.ip) == (account, user, "192.0.2.20")


def test_a_bad_password_creates_nothing_and_keeps_the_link(admin_client, client):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    admin_client.logout()

    response = client.post(link, {"username": "newbie", "password1": "123", "password2": "123"})

    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="newbie").exists()
    assert Invitation.objects.get().accepted_at is None


def test_a_used_link_does_not_work_again(admin_client, client):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    admin_client.logout()
    data = {"username": "newbie", "password1": "a-long-pass-9", "password2": "a-long-pass-9"}
    client.post(link, data)
    client.logout()

    again = client.post(link, {**data, "username": "second"})

    assert again.status_code == 400
    assert "already been used" in again.content.decode()
    assert not get_user_model().objects.filter(username="second").exists()
    assert len(audit_rows(AuditAction.MEMBER_JOINED)) == 1


def test_a_link_older_than_a_day_has_expired(admin_client, client, monkeypatch):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    admin_client.logout()
    later = time.time() + 24 * 3600 + 60
    monkeypatch.setattr(signing.time, "time", lambda: later)

    response = client.get(link)

    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_an_invitation_row_older_than_a_day_has_expired_too(admin_client, client):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    Invitation.objects.update(created_at=Invitation.objects.get().created_at - timedelta(hours=25))
    admin_client.logout()

    assert "expired" in client.get(link).content.decode()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: signing.dumps({"invitation": 1}, salt="another.salt"),
        lambda token: "not-a-token",
        lambda token: signing.dumps({"invitation": "1"}, salt="team.invitation"),
    ],
    ids=["changed", "other salt", "garbage", "id not a number"],
)
def test_a_tampered_link_is_refused(admin_client, client, mangle):
    invite(admin_client)
    token = link_in(mail.outbox[0]).split("/")[2]
    admin_client.logout()

    response = client.get(reverse("invitation_accept", args=[mangle(token)]))

    assert response.status_code == 400
    assert Invitation.objects.get().accepted_at is None


def test_signed_in_as_another_user_the_invitation_is_refused(
    admin_client, client, account, other_account
):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    someone = MemberFactory(account=other_account, user__email="someone@else.example").user
    client.force_login(someone)

    shown = client.get(link)
    posted = client.post(link)

    assert shown.status_code == posted.status_code == 403
    assert "This invitation is for someone else" in shown.content.decode()
    assert 'name="next"' in shown.content.decode()  # sign out and come back
    assert not Member.objects.filter(user=someone, account=account).exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_existing_user_accepts_into_a_further_account(
    admin_client, client, account, other_account
):
    elsewhere = MemberFactory(
        account=other_account, role=Role.ADMIN, user__email="new.person@vantiq.example"
    ).user
    invite(admin_client)
    link = link_in(mail.outbox[0])

    admin_client.logout()
    signed_out = client.get(link)
    assert "Sign in to accept" in signed_out.content.decode()
    client.force_login(elsewhere)
    assert "Join Vantiq Connect" in client.get(link).content.decode()
    response = client.post(link)

    assert response.status_code == 302
    roles = dict(Member.objects.filter(user=elsewhere).values_list("account__slug", "role"))
    assert roles == {"northwind": "admin", "vantiq": "operator"}
    # It lands in the account just joined.
    assert "Vantiq Connect" in client.get(reverse("inventory:endpoint_list")).content.decode()


def test_withdrawing_an_invitation_kills_its_link(admin_client, client, account):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    invitation = Invitation.objects.get()

    admin_client.post(reverse("team:invitation_withdraw", args=[invitation.pk]))

    assert not Invitation.objects.exists()
    [row] = audit_rows(AuditAction.INVITATION_WITHDRAWN)
    assert row.target == "new.person@vantiq.example"
    admin_client.logout()
    assert client.get(link).status_code == 400


def test_pending_lists_only_live_invitations(account, admin_member):
    live = Invitation.objects.create(account=account, email="a@x.example", invited_by=admin_member)
    old = Invitation.objects.create(account=account, email="b@x.example", invited_by=admin_member)
    Invitation.objects.filter(pk=old.pk).update(
        created_at=old.created_at - invitations.VALID_FOR - timedelta(minutes=1)
    )
    assert list(invitations.pending(account=account)) == [live]
