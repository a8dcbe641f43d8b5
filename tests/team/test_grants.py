"""What a member created follows their membership (team/grants.py): removing an
admin revokes the API tokens they created and the invitations they sent;
demoting one lowers their tokens to the new role and revokes their invitations
above it. On the team page and in Django admin alike, in the change's
transaction, told to the admin who made it, on the tokens and members pages and
in the audit log; and read again when a token is used or an invitation
accepted, for any change that bypassed the rule."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from api.models import ApiToken, RevokedBecause
from api.tokens import create_token
from audit.models import AuditAction, AuditEvent
from portal.models import Member, Role
from team.models import Invitation, InvitationRevoked
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks"  # admins only
ENDPOINTS = "/api/v1/endpoints"  # every role


@pytest.fixture
def leaving(account):
    """An admin about to be removed or demoted, with what they handed out."""
    return MemberFactory(account=account, role=Role.ADMIN, user__username="leaving")


@pytest.fixture
def staying(account):
    return MemberFactory(account=account, role=Role.ADMIN, user__username="staying")


def token_of(member: Member, role: Role, name: str) -> tuple[ApiToken, str]:
    return create_token(
        account=member.account,
        name=name,
        role=role,
        created_by=member.user,
        creator_role=Role(member.role),
    )


def invite_as(member: Member, email: str, role: Role) -> str:
    """Invite through the page, signed in as ``member``; the e-mailed link."""
    client = Client()
    client.force_login(member.user)
    client.post(reverse("team:member_invite"), {"email": email, "role": role})
    return re.search(r"http://testserver(/invitation/[^/\s]+/)", mail.outbox[-1].body).group(1)


def api(plain: str, path: str) -> int:
    return Client().get(path, headers={"Authorization": f"Bearer {plain}"}).status_code


def accept(link: str, username: str) -> int:
    data = {"username": username, "password1": "Xq9!long-pass", "password2": "Xq9!long-pass"}
    return Client().post(link, data).status_code


def signed_in(member: Member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def test_removing_an_admin_revokes_their_tokens_and_invitations(
    account, leaving, staying, other_account
):
    _, admin_plain = token_of(leaving, Role.ADMIN, "ci")
    _, viewer_plain = token_of(leaving, Role.VIEWER, "dashboard")
    _, kept_plain = token_of(staying, Role.ADMIN, "kept")
    link = invite_as(leaving, "friend@vantiq.example", Role.ADMIN)
    # The same person is an admin elsewhere too: that account's tokens stay.
    elsewhere = MemberFactory(account=other_account, user=leaving.user, role=Role.ADMIN)
    _, elsewhere_plain = token_of(elsewhere, Role.ADMIN, "ci")
    assert api(admin_plain, WEBHOOKS) == 200

    client = signed_in(staying)
    response = client.post(reverse("team:member_remove", args=[leaving.pk]), follow=True)

    page = response.content.decode()
    assert "2 API tokens revoked" in page and "1 pending invitation revoked" in page
    assert api(admin_plain, ENDPOINTS) == 401
    assert api(viewer_plain, ENDPOINTS) == 401
    assert api(kept_plain, WEBHOOKS) == 200
    assert api(elsewhere_plain, WEBHOOKS) == 200
    assert set(
        ApiToken.objects.filter(account=account, revoked_at__isnull=False).values_list(
            "name", "revoked_because"
        )
    ) == {("ci", RevokedBecause.CREATOR_REMOVED), ("dashboard", RevokedBecause.CREATOR_REMOVED)}
    invitation = Invitation.objects.get(email="friend@vantiq.example")
    assert invitation.revoked_because == InvitationRevoked.CREATOR_REMOVED
    assert accept(link, "friend") == 400
    assert not Member.objects.filter(user__username="friend").exists()
    # The remaining admins see why, on both pages and in the audit log.
    tokens_page = client.get(reverse("api_tokens:token_list")).content.decode()
    assert tokens_page.count("revoked because its creator was removed") == 2
    members_page = client.get(reverse("team:member_list")).content.decode()
    assert "friend@vantiq.example" in members_page
    assert "revoked because its creator was removed" in members_page
    revoked_rows = AuditEvent.objects.filter(
        account=account, action=AuditAction.API_TOKEN_REVOKED
    ).values_list("target", "actor_label", "details__reason")
    assert sorted(revoked_rows) == [
        ("ci", "staying", "creator_removed"),
        ("dashboard", "staying", "creator_removed"),
    ]
    [withdrawn] = AuditEvent.objects.filter(action=AuditAction.INVITATION_WITHDRAWN)
    assert (withdrawn.target, withdrawn.details["reason"]) == (
        "friend@vantiq.example",
        "creator_removed",
    )


def test_demoting_an_admin_lowers_their_tokens_and_revokes_invitations_above(
    account, leaving, staying
):
    admin_token, admin_plain = token_of(leaving, Role.ADMIN, "ci")
    viewer_token, _ = token_of(leaving, Role.VIEWER, "dashboard")
    above = invite_as(leaving, "boss@vantiq.example", Role.ADMIN)
    within = invite_as(leaving, "helper@vantiq.example", Role.OPERATOR)

    client = signed_in(staying)
    response = client.post(
        reverse("team:member_role", args=[leaving.pk]), {"role": "operator"}, follow=True
    )

    page = response.content.decode()
    assert "1 API token lowered to the new role" in page
    assert "1 pending invitation revoked" in page
    admin_token.refresh_from_db()
    viewer_token.refresh_from_db()
    assert (admin_token.role, admin_token.capped_from, admin_token.revoked_at) == (
        Role.OPERATOR,
        Role.ADMIN,
        None,
    )
    assert (viewer_token.role, viewer_token.capped_from) == (Role.VIEWER, "")
    assert api(admin_plain, WEBHOOKS) == 403
    assert api(admin_plain, ENDPOINTS) == 200
    assert accept(above, "boss") == 400
    assert accept(within, "helper") == 302
    assert Member.objects.get(user__username="helper").role == Role.OPERATOR
    tokens_page = client.get(reverse("api_tokens:token_list")).content.decode()
    assert "lowered from Admin because its creator" in tokens_page
    [lowered] = AuditEvent.objects.filter(action=AuditAction.API_TOKEN_ROLE_LOWERED)
    assert (lowered.target, lowered.details["from"], lowered.details["to"]) == (
        "ci",
        "admin",
        "operator",
    )
    assert AuditEvent.objects.get(action=AuditAction.INVITATION_WITHDRAWN).details["reason"] == (
        InvitationRevoked.CREATOR_DEMOTED
    )


def test_a_later_demotion_keeps_the_role_the_token_was_made_with(account, leaving, staying):
    token, _ = token_of(leaving, Role.ADMIN, "ci")
    client = signed_in(staying)
    client.post(reverse("team:member_role", args=[leaving.pk]), {"role": "operator"})
    client.post(reverse("team:member_role", args=[leaving.pk]), {"role": "viewer"})

    token.refresh_from_db()
    assert (token.role, token.capped_from) == (Role.VIEWER, Role.ADMIN)


@pytest.fixture
def support(client):
    user = UserFactory(username="support-staff", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_support_removing_a_member_in_django_admin_revokes_the_same(
    support, account, leaving, staying
):
    token, plain = token_of(leaving, Role.ADMIN, "ci")
    link = invite_as(leaving, "friend@vantiq.example", Role.VIEWER)

    response = support.post(
        reverse("admin:portal_member_delete", args=[leaving.pk]), {"post": "yes"}, follow=True
    )

    assert response.status_code == 200
    assert "1 API token revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_because == RevokedBecause.CREATOR_REMOVED
    assert api(plain, ENDPOINTS) == 401
    assert accept(link, "friend") == 400
    row = AuditEvent.objects.get(action=AuditAction.API_TOKEN_REVOKED)
    assert (row.actor_label, row.actor_kind) == ("support-staff", "staff")


def test_support_demoting_a_member_in_django_admin_lowers_the_same(
    support, account, leaving, staying
):
    token, _ = token_of(leaving, Role.ADMIN, "ci")

    support.post(
        reverse("admin:portal_member_change", args=[leaving.pk]),
        {"user": leaving.user.pk, "account": account.pk, "role": "viewer"},
    )

    token.refresh_from_db()
    assert (token.role, token.capped_from) == (Role.VIEWER, Role.ADMIN)


def test_support_deleting_the_user_revokes_their_tokens(support, account, leaving, staying):
    token, plain = token_of(leaving, Role.ADMIN, "ci")

    support.post(reverse("admin:auth_user_delete", args=[leaving.user.pk]), {"post": "yes"})

    token.refresh_from_db()
    assert token.revoked_because == RevokedBecause.CREATOR_REMOVED
    assert api(plain, ENDPOINTS) == 401


def test_a_token_whose_creator_left_by_another_way_is_refused_or_lowered(account, leaving, staying):
    """Defence in depth: the membership changed without team/grants.py (e.g. a
    query in a shell); the token is still held to its creator's role."""
    _, plain = token_of(leaving, Role.ADMIN, "ci")
    _, staff_plain = create_token(
        account=account, name="staff", role=Role.ADMIN, created_by=None, creator_role=None
    )

    Member.objects.filter(pk=leaving.pk).update(role=Role.OPERATOR)
    assert (api(plain, WEBHOOKS), api(plain, ENDPOINTS)) == (403, 200)
    Member.objects.filter(pk=leaving.pk).delete()
    assert api(plain, ENDPOINTS) == 401
    assert api(staff_plain, WEBHOOKS) == 200  # made by support: no creator to follow


def test_an_invitation_whose_sender_left_by_another_way_is_refused(account, leaving, staying):
    link = invite_as(leaving, "friend@vantiq.example", Role.OPERATOR)
    Member.objects.filter(pk=leaving.pk).update(role=Role.VIEWER)

    response = Client().post(
        link, {"username": "friend", "password1": "Xq9!long-pass", "password2": "Xq9!long-pass"}
    )
    assert response.status_code == 409
    assert "no longer an admin" in response.content.decode()
    assert not Member.objects.filter(user__username="friend").exists()


def test_a_removed_admin_cannot_create_a_token_or_invite_with_an_open_page(
    account, leaving, staying
):
    """The page was opened while an admin; the removal committed before the
    submit: the creator's row is read again, under a lock."""
    from api.tokens import TokenRefused
    from team import invitations

    Member.objects.filter(pk=leaving.pk).delete()
    with pytest.raises(TokenRefused):
        create_token(
            account=account,
            name="late",
            role=Role.VIEWER,
            created_by=leaving.user,
            creator_role=Role.ADMIN,
        )

    class Request:
        user = leaving.user
        META = {"REMOTE_ADDR": "192.0.2.1"}

    with pytest.raises(invitations.InvitationError):
        invitations.invite(
            account=account, email="late@vantiq.example", role=Role.VIEWER, request=Request()
        )
    assert not ApiToken.objects.filter(name="late").exists()
    assert not Invitation.objects.filter(email="late@vantiq.example").exists()
