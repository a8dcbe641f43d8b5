"""Operator policy per group (docs/connectivity.md): the decision on a session
start, the group form, the groups page and the groups API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.urls import reverse

from inventory.models import Group, History, HistoryAction, NetworkEvent, OperatorPolicy, State
from network import batch as network
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory, GroupFactory

pytestmark = pytest.mark.django_db
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
_ids = count(1)


def start(endpoint, plmn: str | None) -> dict:
    event = {
        "id": f"pol-{next(_ids)}",
        "type": "session_start",
        "imsi": endpoint.imsis.first().imsi,
        "at": (T0 + timedelta(seconds=next(_ids))).isoformat(),
    }
    if plmn is not None:
        event["plmn"] = plmn
    return event


def with_policy(group, mode, countries=(), plmns=()):
    group.operator_policy = mode
    group.policy_countries = list(countries)
    group.policy_plmns = list(plmns)
    group.save()
    return EndpointFactory(account=group.account, state=State.IDLE, primary_group=group)


def decide(endpoint, plmn) -> dict:
    (result,) = network.apply_events(events=[start(endpoint, plmn)])
    return result.as_json()


# --- the decision ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "countries", "plmns", "plmn", "accepted"),
    [
        # allowed: in an allowed country, or an allowed PLMN
        (OperatorPolicy.ALLOW, ["GB"], [], "23415", True),
        (OperatorPolicy.ALLOW, [], ["26201"], "26201", True),
        # an allow list refuses what it does not name, and an unreported network
        (OperatorPolicy.ALLOW, ["GB"], [], "26201", False),
        (OperatorPolicy.ALLOW, ["GB"], [], None, False),
        # blocked by country, blocked by PLMN
        (OperatorPolicy.BLOCK, ["DE"], [], "26201", False),
        (OperatorPolicy.BLOCK, [], ["23415"], "23415", False),
        # a block list lets the rest through, an unreported network too
        (OperatorPolicy.BLOCK, ["DE"], ["23415"], "20801", True),
        (OperatorPolicy.BLOCK, ["DE"], [], None, True),
        (OperatorPolicy.ANY, [], [], "26201", True),
    ],
)
def test_policy_decides_the_session_start(group, mode, countries, plmns, plmn, accepted):
    endpoint = with_policy(group, mode, countries, plmns)
    result = decide(endpoint, plmn)
    endpoint.refresh_from_db()
    if accepted:
        assert result["status"] == "accepted" and endpoint.state == State.ACTIVE
    else:
        assert (result["status"], result["reason"]) == ("rejected", "operator_not_allowed")
        assert endpoint.state == State.IDLE
        stored = NetworkEvent.objects.get(event_id=result["id"])
        assert (stored.reason, stored.plmn) == ("operator_not_allowed", plmn or "")
        row = History.objects.get(endpoint=endpoint, action=HistoryAction.SESSION_REJECTED)
        assert row.reason == "operator_not_allowed"
        if plmn:
            assert row.changes["plmn"] == plmn


def test_the_policy_of_the_group_the_apn_picks_applies(account, group):
    secondary = GroupFactory(account=account, apn="roam.example")
    secondary.operator_policy = OperatorPolicy.BLOCK
    secondary.policy_countries = ["DE"]
    secondary.save()
    endpoint = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    endpoint.secondary_groups.add(secondary, through_defaults={"account": account})
    primary = start(endpoint, "26201")
    roaming = {**start(endpoint, "26201"), "apn": "roam.example"}
    results = [r.as_json() for r in network.apply_events(events=[roaming, primary])]
    assert [r.get("reason", "") for r in results] == ["operator_not_allowed", ""]


# --- the group form and the groups page -------------------------------------------------


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    return client


def form_data(group, **changes) -> dict:
    data = {
        "name": group.name,
        "vslice": group.vslice_id,
        "apn": group.apn,
        "warning_percent": "80",
        "operator_policy": "any",
        "policy_countries": "",
        "policy_plmns": "",
    }
    data.update(changes)
    return data


def test_admin_sets_a_policy_on_the_form_and_the_groups_page_shows_it(admin_client, group):
    response = admin_client.post(
        reverse("inventory:group_edit", args=[group.pk]),
        form_data(
            group, operator_policy="block", policy_countries="de, fr de", policy_plmns="23415"
        ),
    )
    assert response.status_code == 302, response.content.decode()
    group.refresh_from_db()
    assert (group.operator_policy, group.policy_countries, group.policy_plmns) == (
        "block",
        ["DE", "FR"],
        ["23415"],
    )
    page = admin_client.get(reverse("inventory:group_list")).content.decode()
    assert 'data-testid="operator-policy">Not on DE, FR, <span class="mono">23415</span>' in page
    form = admin_client.get(reverse("inventory:group_edit", args=[group.pk])).content.decode()
    assert 'value="DE, FR"' in form and 'value="block" checked' in form


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"operator_policy": "block", "policy_countries": "XX"},
            "Not an ISO 3166 country code: XX",
        ),
        ({"operator_policy": "allow", "policy_plmns": "2341"}, "Not a PLMN"),
        ({"operator_policy": "allow"}, "List at least one country or network"),
        ({"operator_policy": "any", "policy_countries": "DE"}, "allowed or blocked"),
        ({"operator_policy": "maybe"}, "Select a valid choice"),
    ],
)
def test_bad_policy_on_the_form_is_a_message_and_changes_nothing(
    admin_client, group, changes, message
):
    response = admin_client.post(
        reverse("inventory:group_edit", args=[group.pk]), form_data(group, **changes)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    group.refresh_from_db()
    assert (group.operator_policy, group.policy_countries, group.policy_plmns) == ("any", [], [])


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_below_admin_cannot_set_a_policy(client, account, group, role):
    from tests.factories import MemberFactory

    client.force_login(MemberFactory(account=account, role=role).user)
    response = client.post(
        reverse("inventory:group_edit", args=[group.pk]),
        form_data(group, operator_policy="block", policy_countries="DE"),
    )
    assert response.status_code == 403
    group.refresh_from_db()
    assert group.operator_policy == "any"


# --- the groups API ------------------------------------------------------------------


@pytest.fixture
def api(account):
    return ApiClient(make_token(account, Role.ADMIN)[1])


def test_api_creates_and_patches_a_policy(api, group):
    created = api.post(
        "/api/v1/groups",
        {
            "name": "roamers",
            "vslice": group.vslice.name,
            "apn": "roam.apn",
            "operator_policy": "allow",
            "policy_countries": ["gb", "DE"],
            "policy_plmns": ["310260"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["operator_policy"], body["policy_countries"], body["policy_plmns"]) == (
        "allow",
        ["DE", "GB"],
        ["310260"],
    )
    patched = api.patch("/api/v1/groups/roamers", {"policy_countries": ["FR"]})
    assert patched.status_code == 200, patched.content
    assert patched.json()["policy_countries"] == ["FR"]
    assert patched.json()["policy_plmns"] == ["310260"]
    cleared = api.patch(
        "/api/v1/groups/roamers",
        {"operator_policy": "any", "policy_countries": [], "policy_plmns": []},
    )
    assert cleared.status_code == 200, cleared.content
    assert Group.objects.get(name="roamers").operator_policy == "any"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"operator_policy": "block", "policy_countries": ["ZZ"]}, "policy_countries"),
        ({"operator_policy": "block", "policy_plmns": ["12"]}, "policy_plmns"),
        ({"operator_policy": "sometimes"}, "operator_policy"),
        ({"operator_policy": "allow"}, "operator_policy"),
        ({"operator_policy": None}, "operator_policy"),
    ],
)
def test_api_refuses_a_bad_policy_and_changes_nothing(api, group, body, field):
    response = api.patch(f"/api/v1/groups/{group.name}", body)
    assert response.status_code == 422, response.content
    assert field in response.content.decode()
    group.refresh_from_db()
    assert (group.operator_policy, group.policy_countries) == ("any", [])
