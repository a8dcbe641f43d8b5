"""``/api/v1/endpoints``: the shape, the filters and pages, PATCH with the edit
screen's rules and messages, history; pinned query counts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from inventory.models import AllocationKind, History, IPAllocation, SecondaryMembership, State
from portal.models import Role
from tests.factories import EndpointFactory, GroupFactory

LIST = "/api/v1/endpoints"


def url(endpoint) -> str:
    return f"/api/v1/endpoints/{endpoint.iccid}"


@pytest.fixture
def fleet(account, group):
    second = GroupFactory(account=account, name="telemetry", vslice=group.vslice)
    rows = []
    for i in range(30):
        endpoint = EndpointFactory(
            account=account,
            state=State.ACTIVE if i % 3 else State.SUSPENDED,
            primary_group=group,
            name=f"truck {i:02d}",
            tags=["eu"] if i % 2 else ["us"],
        )
        IPAllocation.objects.create(
            account=account,
            endpoint=endpoint,
            group=group,
            vslice=group.vslice,
            address=f"100.64.1.{i + 1}",
            kind=AllocationKind.AUTO,
        )
        SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=second)
        rows.append(endpoint)
    return rows


def test_an_endpoint_has_the_documented_shape(api, fleet, group):
    endpoint = fleet[1]
    body = api.get(url(endpoint)).json()
    assert body == {
        "iccid": endpoint.iccid,
        "imsis": sorted(endpoint.imsis.values_list("imsi", flat=True)),
        "name": "truck 01",
        "reference": "",
        "tags": ["eu"],
        "state": "active",
        "primary_group": group.name,
        "secondary_groups": ["telemetry"],
        "imei_lock": {"enabled": False, "imei": ""},
        "ip_addresses": [{"group": group.name, "address": "100.64.1.2", "kind": "auto"}],
        "key_values": {},
        "last_activity": None,
        "state_changed_at": body["state_changed_at"],
        "created_at": body["created_at"],
    }


def test_pages_walk_every_endpoint_once_in_order(api, fleet):
    seen, cursor = [], None
    while True:
        page = api.get(
            LIST, {"limit": 7, "sort": "-name", **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200
        body = page.json()
        seen += [row["name"] for row in body["results"]]
        if not (cursor := body["next"]):
            break
    assert seen == sorted((e.name for e in fleet), reverse=True)


def test_filters_combine(api, fleet):
    body = api.get(LIST, {"state": ["suspended"], "tag": "eu", "limit": 100}).json()
    expected = {e.iccid for e in fleet if e.state == State.SUSPENDED and e.tags == ["eu"]}
    assert {row["iccid"] for row in body["results"]} == expected


@pytest.mark.parametrize(
    "params, field",
    [
        ({"state": "bogus"}, "query.state.0"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
        ({"sort": "secret"}, "query.sort"),
        ({"group": "not-ours"}, "query.group"),
        ({"tag": "a b"}, "query.tag"),
        ({"cursor": "forged"}, "query.cursor"),
    ],
)
def test_bad_parameters_are_422_with_the_field(api, fleet, params, field):
    response = api.get(LIST, params)
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_cursor_of_another_sort_is_refused(api, fleet):
    cursor = api.get(LIST, {"limit": 5, "sort": "name"}).json()["next"]
    assert api.get(LIST, {"limit": 5, "sort": "iccid", "cursor": cursor}).status_code == 422


def test_list_and_detail_run_a_constant_number_of_queries(api, fleet, django_assert_num_queries):
    api.get(LIST)  # the token's last use is written once a minute: not in the count
    # token, groups, the page, then one query for the page's IMSIs, secondary
    # groups, addresses and key values together (api/page_relations.py; was four)
    with django_assert_num_queries(4):
        assert len(api.get(LIST, {"limit": 5}).json()["results"]) == 5
    with django_assert_num_queries(4):
        assert len(api.get(LIST, {"limit": 30}).json()["results"]) == 30
    with django_assert_num_queries(4):
        api.get(url(fleet[0]))


def test_patch_changes_only_what_is_sent(api, fleet):
    endpoint = fleet[1]
    response = api.patch(url(endpoint), {"reference": "VIN-1", "tags": ["fleet-a", "EU"]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["reference"], body["tags"]) == (
        "truck 01",
        "VIN-1",
        ["fleet-a", "eu"],
    )
    history = History.objects.get(endpoint=endpoint, action="edited")
    assert history.actor_kind == "api" and history.actor_label == "api:admin-token"
    assert history.changes == {"reference": ["", "VIN-1"], "tags": [["eu"], ["fleet-a", "eu"]]}


def test_patch_sets_a_static_address_and_the_imei_lock(api, fleet, group):
    endpoint = fleet[1]
    response = api.patch(
        url(endpoint),
        {
            "static_ips": {group.name: "100.64.9.9"},
            "imei_lock": {"enabled": True, "imei": "490154203237518"},
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["imei_lock"] == {"enabled": True, "imei": "490154203237518"}
    assert {"group": group.name, "address": "100.64.9.9", "kind": "static"} in body["ip_addresses"]


@pytest.mark.parametrize(
    "patch, field, message",
    [
        ({"imei_lock": {"enabled": True}}, "body.imei_lock.imei", "Enter the IMEI"),
        ({"imei_lock": {"imei": "123"}}, "body.imei_lock.imei", "IMEI"),
        ({"tags": ["a b!"]}, "body.tags", "tag"),
        (
            {"static_ips": {"vantiq-connect-eu": "10.0.0.1"}},
            "body.static_ips.vantiq-connect-eu",
            "",
        ),
        ({"static_ips": {"unknown": "100.64.0.9"}}, "body.static_ips.unknown", "Not one of"),
        ({"secondary_groups": ["unknown"]}, "body.secondary_groups", "not one of this account"),
        ({"name": "x" * 101}, "body.name", ""),
        ({"colour": "red"}, "body.colour", ""),
        ({"imei_lock": {"enabled": 0}}, "body.imei_lock.enabled", ""),
    ],
)
def test_patch_refusals_name_the_field_and_change_nothing(api, fleet, patch, field, message):
    endpoint = fleet[1]
    before = (endpoint.name, endpoint.tags, endpoint.imei, History.objects.count())
    response = api.patch(url(endpoint), patch)
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert field in [e["field"] for e in errors], errors
    assert message.lower() in " ".join(e["message"] for e in errors).lower()
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.tags, endpoint.imei, History.objects.count()) == before


def test_patch_messages_are_the_edit_screens(api, client, operator, fleet):
    """The same invalid IMEI: the same words in the form and in the API."""
    endpoint = fleet[1]
    api_message = api.patch(url(endpoint), {"imei_lock": {"enabled": True, "imei": "1234"}}).json()[
        "errors"
    ][0]["message"]
    client.force_login(operator)
    page = client.post(
        f"/inventory/endpoints/{endpoint.iccid}/edit/",
        {"imei_lock_enabled": "on", "imei": "1234", "name": "", "reference": "", "tags": ""},
    )
    assert api_message in page.context["form"].errors["imei"]


def test_a_terminated_endpoint_cannot_be_edited(api, account):
    endpoint = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at=timezone.now()
    )
    response = api.patch(url(endpoint), {"name": "x"})
    assert response.status_code == 409
    endpoint.refresh_from_db()
    assert endpoint.name == ""


def test_viewers_read_but_do_not_edit(api_as, fleet):
    viewer = api_as(Role.VIEWER)
    assert viewer.get(url(fleet[0])).status_code == 200
    response = viewer.patch(url(fleet[0]), {"name": "x"})
    assert response.status_code == 403
    assert "Operator" in response.json()["detail"]


def test_history_pages_newest_first(api, fleet):
    endpoint = fleet[1]
    for i in range(5):
        assert api.patch(url(endpoint), {"name": f"n{i}"}).status_code == 200
    first = api.get(f"{url(endpoint)}/history", {"limit": 3}).json()
    assert [row["changes"]["name"][1] for row in first["results"]] == ["n4", "n3", "n2"]
    rest = api.get(f"{url(endpoint)}/history", {"limit": 3, "cursor": first["next"]}).json()
    assert [row["changes"]["name"][1] for row in rest["results"]] == ["n1", "n0"]
    assert rest["next"] is None
    assert (
        api.get(f"{url(endpoint)}/history", {"cursor": "99999999999999999999-1"}).status_code == 422
    )


def test_a_malformed_iccid_is_422_and_an_unknown_one_404(api, db):
    assert api.get("/api/v1/endpoints/12ab").status_code == 422
    assert api.get("/api/v1/endpoints/8944000000000000099").status_code == 404
