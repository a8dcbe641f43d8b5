"""Inventory → Groups managed by account admins, and the same rules in the API:
create, change (at once, with History on the group's endpoints), delete only
when empty; VSlices of the account only; another account's group a 404; a
role below admin a 403."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory import addressing
from inventory.models import Group, History, HistoryAction, State
from portal.models import ActorKind, Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory, GroupFactory, MemberFactory, VSliceFactory

pytestmark = pytest.mark.django_db


def form(group_or_none=None, **changes) -> dict:
    data = {"name": "fleet-new", "apn": "new.apn", "warning_percent": "80"}
    if group_or_none is not None:
        data.update(name=group_or_none.name, apn=group_or_none.apn, vslice=group_or_none.vslice_id)
    data.update(changes)
    return data


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    return client


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_below_admin_is_refused_and_nothing_changes(client, account, group, role):
    client.force_login(MemberFactory(account=account, role=role).user)
    urls = [
        reverse("inventory:group_create"),
        reverse("inventory:group_edit", args=[group.pk]),
        reverse("inventory:group_delete", args=[group.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403
        assert client.post(url, form(group, apn="x.y")).status_code == 403
    group.refresh_from_db()
    assert Group.objects.count() == 1 and group.apn != "x.y"
    assert "New group" not in client.get(reverse("inventory:group_list")).content.decode()


def test_admin_creates_a_group_in_an_account_vslice(admin_client, account, group):
    response = admin_client.post(
        reverse("inventory:group_create"),
        form(vslice=group.vslice_id, data_allowance_mb="500", suspend_at_limit="on"),
    )
    assert response.status_code == 302
    created = Group.objects.get(account=account, name="fleet-new")
    assert (
        created.vslice_id,
        created.apn,
        created.data_allowance_mb,
        created.suspend_at_limit,
    ) == (
        group.vslice_id,
        "new.apn",
        500,
        True,
    )
    page = admin_client.get(reverse("inventory:group_list")).content.decode()
    assert "500 MB/month, warn at 80 %, suspend at 100 %" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"apn": "a" * 101}, "at most 100 characters"),
        ({"warning_percent": "0"}, "greater than or equal to 1"),
        ({"warning_percent": "101"}, "less than or equal to 100"),
        ({"data_allowance_mb": "-5"}, "greater than or equal to 1"),
        ({"data_allowance_mb": "abc"}, "Enter a whole number."),
        ({"name": "a\x00b"}, "Null characters are not allowed."),
    ],
)
def test_bad_input_is_a_clear_message_and_nothing_is_created(admin_client, group, changes, message):
    response = admin_client.post(
        reverse("inventory:group_create"), form(vslice=group.vslice_id, **changes)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Group.objects.count() == 1


def test_a_taken_name_is_refused(admin_client, group):
    response = admin_client.post(
        reverse("inventory:group_create"), form(vslice=group.vslice_id, name=group.name)
    )
    assert "already has a group of that name" in response.content.decode()
    assert Group.objects.count() == 1


def test_an_edit_applies_at_once_and_is_in_the_endpoints_history(
    admin_client, account, group, admin_member
):
    members = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group) for _ in range(3)
    ]
    elsewhere = EndpointFactory(account=account)
    response = admin_client.post(
        reverse("inventory:group_edit", args=[group.pk]),
        form(group, apn="changed.apn", data_allowance_mb="100"),
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.apn, group.data_allowance_mb) == ("changed.apn", 100)
    rows = History.objects.filter(action=HistoryAction.GROUP_CHANGED)
    assert sorted(r.endpoint_id for r in rows) == sorted(e.pk for e in members)
    row = rows.first()
    assert row.actor_kind == ActorKind.USER and row.actor_id == admin_member.pk
    assert row.changes["apn"][1] == "changed.apn" and row.changes["data_allowance_mb"] == [
        None,
        100,
    ]
    assert not History.objects.filter(
        endpoint=elsewhere, action=HistoryAction.GROUP_CHANGED
    ).exists()
    history = admin_client.get(reverse("inventory:endpoint_history", args=[members[0].iccid]))
    assert "Group settings changed" in history.content.decode()


def test_moving_a_group_with_addresses_to_another_vslice_is_refused(admin_client, account, group):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    addressing.allocate_auto(memberships=[(endpoint.pk, group.pk)])
    other = VSliceFactory(account=account, subnet="10.200.0.0/16")
    response = admin_client.post(
        reverse("inventory:group_edit", args=[group.pk]), form(group, vslice=other.pk)
    )
    assert (
        "holds none" in response.content.decode() or "hold addresses" in response.content.decode()
    )
    group.refresh_from_db()
    assert group.vslice_id != other.pk


def test_only_an_empty_group_can_be_deleted(admin_client, account, group):
    EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    empty = GroupFactory(account=account, vslice=group.vslice)
    response = admin_client.post(reverse("inventory:group_delete", args=[group.pk]), follow=True)
    assert "Only an empty group can be deleted" in response.content.decode()
    assert Group.objects.filter(pk=group.pk).exists()
    admin_client.post(reverse("inventory:group_delete", args=[empty.pk]))
    assert not Group.objects.filter(pk=empty.pk).exists()


def test_another_accounts_group_is_a_404(admin_client, other_account):
    theirs = GroupFactory(account=other_account)
    for name in ("inventory:group_edit", "inventory:group_delete"):
        assert admin_client.get(reverse(name, args=[theirs.pk])).status_code == 404
        assert admin_client.post(reverse(name, args=[theirs.pk]), form(theirs)).status_code == 404
    assert Group.objects.filter(pk=theirs.pk).exists()


# --- the API ----------------------------------------------------------------------


@pytest.fixture
def api_admin(account):
    return ApiClient(make_token(account, Role.ADMIN)[1])


def test_api_create_edit_delete(api_admin, account, group):
    created = api_admin.post(
        "/api/v1/groups",
        {
            "name": "api-group",
            "vslice": group.vslice.name,
            "apn": "api.apn",
            "data_allowance_mb": 10,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["data_allowance_mb"] == 10
    endpoint = EndpointFactory(
        account=account, state=State.IDLE, primary_group=Group.objects.get(name="api-group")
    )
    edited = api_admin.patch(
        "/api/v1/groups/api-group", {"apn": "other.apn", "suspend_at_limit": True}
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["apn"] == "other.apn" and edited.json()["suspend_at_limit"] is True
    row = History.objects.get(endpoint=endpoint, action=HistoryAction.GROUP_CHANGED)
    assert row.actor_kind == ActorKind.API
    refused = api_admin.delete("/api/v1/groups/api-group")
    assert refused.status_code == 409
    endpoint.delete()
    assert api_admin.delete("/api/v1/groups/api-group").status_code == 204
    assert not Group.objects.filter(name="api-group").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "vslice": "nope", "apn": "a"},
        {"name": "", "vslice": "v", "apn": "a"},
        {"name": "x", "vslice": "v", "apn": "a", "warning_percent": 0},
        {"name": "x", "vslice": "v", "apn": "a", "data_allowance_mb": "10"},
        {"name": "x", "vslice": "v", "apn": "a", "colour": "red"},
        {"name": "x\x00", "vslice": "v", "apn": "a"},
    ],
)
def test_api_bad_bodies_are_422(api_admin, group, body):
    if body.get("vslice") == "v":
        body["vslice"] = group.vslice.name
    response = api_admin.post("/api/v1/groups", body)
    assert response.status_code == 422, response.content
    assert Group.objects.count() == 1


def test_api_name_taken_is_409(api_admin, group):
    response = api_admin.post(
        "/api/v1/groups", {"name": group.name, "vslice": group.vslice.name, "apn": "a"}
    )
    assert response.status_code == 409
