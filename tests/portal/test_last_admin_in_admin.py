"""Staff edits in Django admin keep the last-admin rule of the team page
(docs/team.md): no role change, move, inline edit or delete (of a membership or
of a user) leaves an account without an admin; the admin says why and nothing
changes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.urls import reverse

from portal.models import Member, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REFUSED = "would be left without an admin"


@pytest.fixture
def support(client):
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def last_admin(admin_member, account) -> Member:
    return Member.objects.get(user=admin_member, account=account)


def said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request)) + (
        response.content.decode() if response.status_code == 200 else ""
    )


def member_form(member: Member, **change) -> dict:
    return {"user": member.user_id, "account": member.account_id, "role": member.role, **change}


def test_demoting_the_last_admin_is_refused(support, last_admin):
    url = reverse("admin:portal_member_change", args=[last_admin.pk])

    response = support.post(url, member_form(last_admin, role=Role.OPERATOR))

    assert response.status_code == 200 and REFUSED in said(response)
    assert Member.objects.get(pk=last_admin.pk).role == Role.ADMIN


def test_moving_the_last_admin_to_another_account_is_refused(support, last_admin, other_account):
    url = reverse("admin:portal_member_change", args=[last_admin.pk])

    response = support.post(url, member_form(last_admin, account=other_account.pk))

    assert response.status_code == 200 and REFUSED in said(response)
    assert Member.objects.get(pk=last_admin.pk).account_id == last_admin.account_id


def test_with_a_second_admin_demoting_one_is_allowed(support, last_admin, account):
    Member.objects.create(user=UserFactory(), account=account, role=Role.ADMIN)
    url = reverse("admin:portal_member_change", args=[last_admin.pk])

    response = support.post(url, member_form(last_admin, role=Role.VIEWER))

    assert response.status_code == 302
    assert Member.objects.get(pk=last_admin.pk).role == Role.VIEWER


def test_deleting_the_last_admin_is_refused(support, last_admin):
    url = reverse("admin:portal_member_delete", args=[last_admin.pk])

    response = support.post(url, {"post": "yes"})

    assert response.status_code == 302 and REFUSED in said(response)
    assert Member.objects.filter(pk=last_admin.pk).exists()


def test_the_bulk_delete_action_deletes_nothing_if_one_account_would_lose_its_admin(
    support, last_admin, operator, account
):
    members = list(Member.objects.filter(account=account).values_list("pk", flat=True))
    assert len(members) == 2

    response = support.post(
        reverse("admin:portal_member_changelist"),
        {"action": "delete_selected", "_selected_action": members, "post": "yes"},
    )

    assert REFUSED in said(response)
    assert Member.objects.filter(account=account).count() == 2


def _inline(account, member: Member, **row) -> dict:
    data = {
        "name": account.name,
        "members-TOTAL_FORMS": "1",
        "members-INITIAL_FORMS": "1",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        "members-0-id": member.pk,
        "members-0-account": account.pk,
        "members-0-user": member.user_id,
        "members-0-role": member.role,
    }
    data.update({f"members-0-{name}": value for name, value in row.items()})
    return data


@pytest.mark.parametrize("row", [{"role": Role.VIEWER}, {"DELETE": "on"}], ids=["demote", "delete"])
def test_the_accounts_inline_keeps_the_last_admin(support, last_admin, account, row):
    url = reverse("admin:portal_account_change", args=[account.pk])

    response = support.post(url, _inline(account, last_admin, **row))

    assert response.status_code == 200 and REFUSED in said(response)
    assert Member.objects.get(pk=last_admin.pk).role == Role.ADMIN


def test_deleting_a_user_who_is_an_accounts_last_admin_is_refused(support, last_admin):
    url = reverse("admin:auth_user_delete", args=[last_admin.user_id])

    response = support.post(url, {"post": "yes"})

    assert REFUSED in said(response)
    assert get_user_model().objects.filter(pk=last_admin.user_id).exists()
    assert Member.objects.filter(pk=last_admin.pk).exists()
