"""Nothing crosses accounts through the customer API: every operation, given
another account's ICCID, job or group (in the path, the body or a filter),
answers 404 / 422 / an empty result, shows nothing of it and changes nothing.
Every role gets what it may and a 403 for the rest. A guard fails when an
operation of the OpenAPI document is missing from the matrix."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from api.main import api as ninja_api
from events.models import AccountEvent
from inventory import activation_codes
from inventory.models import (
    Endpoint,
    EventStatus,
    EventType,
    Group,
    History,
    IPAllocation,
    NetworkEvent,
    State,
    StockSim,
)
from jobs.models import Action, Job
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory, GroupFactory
from tests.portal.test_auth_and_accounts import webhook_of
from webhooks.models import Webhook

SECRET_NAME = "northwind-secret-truck"
SECRET_GROUP = "northwind-secret-group"
SECRET_TAG = "nw-secret-tag"
SECRET_REASON = "northwind-secret-recall"
THEIR_CODE = "NWSECRET01"
OUR_CODE = "VANTIQOK1"


@dataclass
class World:
    ours: Endpoint
    group: object
    theirs: Endpoint
    their_group: object
    their_job: Job
    their_webhook: Webhook


@pytest.fixture
def world(account, other_account, group):
    their_group = GroupFactory(
        account=other_account, name=SECRET_GROUP, vslice__subnet="100.65.0.0/16"
    )
    theirs = EndpointFactory(
        account=other_account,
        state=State.ACTIVE,
        primary_group=their_group,
        name=SECRET_NAME,
        tags=[SECRET_TAG],
    )
    NetworkEvent.objects.create(
        event_id="their-event",
        account=other_account,
        endpoint=theirs,
        group=their_group,
        type=EventType.ATTACH,
        imsi=theirs.imsis.first().imsi,
        at=timezone.now(),
        status=EventStatus.ACCEPTED,
    )
    their_job = Job.objects.create(
        account=other_account, action=Action.SUSPEND, reason=SECRET_REASON
    )
    AccountEvent.objects.create(
        account=other_account,
        type="endpoint.state_changed",
        endpoint_id=theirs.pk,
        payload={"endpoint": {"id": theirs.pk, "iccid": theirs.iccid}, "reason": SECRET_REASON},
    )
    ours = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    their_webhook = webhook_of(other_account.pk)
    their_webhook.description = SECRET_REASON
    their_webhook.save()
    StockSim.objects.create(
        iccid=theirs.iccid,
        imsis=[],
        code_hash=activation_codes.make_hash(THEIR_CODE),
        claimed_at=timezone.now(),
        claimed_by=other_account,
    )
    return World(ours, group, theirs, their_group, their_job, their_webhook)


def db_state() -> tuple:
    return (
        sorted(Endpoint.objects.values_list("iccid", "state", "primary_group_id", "name", "tags")),
        History.objects.count(),
        sorted(IPAllocation.objects.values_list("endpoint_id", "address")),
        sorted(Job.objects.values_list("pk", "state", "cancel_requested")),
        sorted(Webhook.objects.values_list("pk", "url", "secret", "enabled", "description")),
        AccountEvent.objects.count(),
        sorted(StockSim.objects.values_list("iccid", "claimed_by_id")),
        sorted(
            Group.objects.values_list(
                "pk",
                "name",
                "apn",
                "vslice_id",
                "data_allowance_mb",
                "operator_policy",
                "policy_countries",
                "policy_plmns",
            )
        ),
    )


def _theirs(w):
    return w.theirs.iccid


# (operation id, method, path, body or params, expected)
CASES = [
    ("list_endpoints", "get", lambda w: "/api/v1/endpoints", lambda w: {"q": _theirs(w)}, "empty"),
    ("list_endpoints", "get", lambda w: "/api/v1/endpoints", lambda w: {"tag": SECRET_TAG},
     "empty"),
    ("list_endpoints", "get", lambda w: "/api/v1/endpoints", lambda w: {"group": SECRET_GROUP},
     "422"),
    ("get_endpoint", "get", lambda w: f"/api/v1/endpoints/{_theirs(w)}", lambda w: {}, "404"),
    ("edit_endpoint", "patch", lambda w: f"/api/v1/endpoints/{_theirs(w)}",
     lambda w: {"name": "taken"}, "404"),
    ("edit_endpoint", "patch", lambda w: f"/api/v1/endpoints/{w.ours.iccid}",
     lambda w: {"secondary_groups": [SECRET_GROUP]}, "422"),
    ("endpoint_history", "get", lambda w: f"/api/v1/endpoints/{_theirs(w)}/history",
     lambda w: {}, "404"),
    ("endpoint_connectivity", "get", lambda w: f"/api/v1/endpoints/{_theirs(w)}/connectivity",
     lambda w: {}, "404"),
    ("assign_endpoint", "post", lambda w: f"/api/v1/endpoints/{_theirs(w)}/assign",
     lambda w: {"group": w.group.name}, "404"),
    ("assign_endpoint", "post", lambda w: f"/api/v1/endpoints/{w.ours.iccid}/assign",
     lambda w: {"group": SECRET_GROUP}, "422"),
    ("suspend_endpoint", "post", lambda w: f"/api/v1/endpoints/{_theirs(w)}/suspend",
     lambda w: {}, "404"),
    ("terminate_endpoint", "post", lambda w: f"/api/v1/endpoints/{_theirs(w)}/terminate",
     lambda w: {}, "404"),
    ("reset_endpoint", "post", lambda w: f"/api/v1/endpoints/{_theirs(w)}/reset",
     lambda w: {}, "404"),
    ("bulk_reset", "post", lambda w: "/api/v1/bulk/reset",
     lambda w: {"iccids": [w.ours.iccid, _theirs(w)]}, "422"),
    ("bulk_reset", "post", lambda w: "/api/v1/bulk/reset",
     lambda w: {"filter": {"tag": SECRET_TAG}}, "job:0"),
    ("bulk_assign", "post", lambda w: "/api/v1/bulk/assign",
     lambda w: {"iccids": [_theirs(w)], "group": w.group.name}, "422"),
    ("bulk_assign", "post", lambda w: "/api/v1/bulk/assign",
     lambda w: {"iccids": [w.ours.iccid], "group": SECRET_GROUP}, "422"),
    ("bulk_suspend", "post", lambda w: "/api/v1/bulk/suspend",
     lambda w: {"iccids": [w.ours.iccid, _theirs(w)]}, "422"),
    ("bulk_suspend", "post", lambda w: "/api/v1/bulk/suspend",
     lambda w: {"filter": {"tag": SECRET_TAG}}, "job:0"),
    ("bulk_terminate", "post", lambda w: "/api/v1/bulk/terminate",
     lambda w: {"iccids": [_theirs(w)]}, "422"),
    ("bulk_terminate", "post", lambda w: "/api/v1/bulk/terminate",
     lambda w: {"filter": {"group": SECRET_GROUP}, "confirm_count": 1}, "422"),
    ("list_jobs", "get", lambda w: "/api/v1/jobs", lambda w: {}, "empty"),
    ("get_job", "get", lambda w: f"/api/v1/jobs/{w.their_job.pk}", lambda w: {}, "404"),
    ("cancel_job", "post", lambda w: f"/api/v1/jobs/{w.their_job.pk}/cancel", lambda w: {}, "404"),
    ("list_groups", "get", lambda w: "/api/v1/groups", lambda w: {}, "ours_only"),
    ("get_group", "get", lambda w: f"/api/v1/groups/{SECRET_GROUP}", lambda w: {}, "404"),
    ("create_group", "post", lambda w: "/api/v1/groups",
     lambda w: {"name": "mine", "vslice": w.their_group.vslice.name, "apn": "x.apn"}, "422"),
    ("edit_group", "patch", lambda w: f"/api/v1/groups/{SECRET_GROUP}",
     lambda w: {"apn": "taken.over"}, "404"),
    ("edit_group", "patch", lambda w: f"/api/v1/groups/{SECRET_GROUP}",
     lambda w: {"operator_policy": "block", "policy_countries": ["DE"]}, "404"),
    ("edit_group", "patch", lambda w: f"/api/v1/groups/{w.group.name}",
     lambda w: {"vslice": w.their_group.vslice.name}, "422"),
    ("delete_group", "delete", lambda w: f"/api/v1/groups/{SECRET_GROUP}", lambda w: {}, "404"),
    ("list_network_events", "get", lambda w: "/api/v1/network-events",
     lambda w: {"endpoint": _theirs(w)}, "empty"),
    ("list_network_events", "get", lambda w: "/api/v1/network-events", lambda w: {}, "empty"),
    ("list_events", "get", lambda w: "/api/v1/events", lambda w: {"endpoint": _theirs(w)},
     "empty"),
    ("list_events", "get", lambda w: "/api/v1/events", lambda w: {}, "ours_events_only"),
    ("list_webhooks", "get", lambda w: "/api/v1/webhooks", lambda w: {}, "empty"),
    ("create_webhook", "post", lambda w: "/api/v1/webhooks",
     lambda w: {"url": "http://127.0.0.1:9/x", "event_types": ["endpoint.updated"]},
     "created"),
    ("get_webhook", "get", lambda w: f"/api/v1/webhooks/{w.their_webhook.pk}", lambda w: {},
     "404"),
    ("update_webhook", "patch", lambda w: f"/api/v1/webhooks/{w.their_webhook.pk}",
     lambda w: {"enabled": False}, "404"),
    ("delete_webhook", "delete", lambda w: f"/api/v1/webhooks/{w.their_webhook.pk}",
     lambda w: {}, "404"),
    ("rotate_webhook_secret", "post",
     lambda w: f"/api/v1/webhooks/{w.their_webhook.pk}/rotate-secret", lambda w: {}, "404"),
    ("test_webhook", "post", lambda w: f"/api/v1/webhooks/{w.their_webhook.pk}/test",
     lambda w: {}, "404"),
    ("activate_sim", "post", lambda w: "/api/v1/activations",
     lambda w: {"iccid": w.theirs.iccid, "activation_code": THEIR_CODE}, "422"),
]  # fmt: skip


def _call(client: ApiClient, method: str, path: str, data: dict):
    if method == "delete":
        return client.delete(path)
    return getattr(client, method)(path, data)


@pytest.mark.parametrize(
    ("method", "path", "data", "expect"),
    [case[1:] for case in CASES],
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)],
)
def test_another_accounts_objects_are_out_of_reach(api, world, method, path, data, expect):
    before = db_state()
    response = _call(api, method, path(world), data(world))
    body = response.content.decode()
    if expect in ("404", "422"):
        assert response.status_code == int(expect), body
        assert response["Content-Type"] == "application/problem+json"
    elif expect == "empty":
        assert response.status_code == 200, body
        assert response.json()["results"] == []
    elif expect == "ours_events_only":
        assert response.status_code == 200, body
        theirs = world.theirs.account_id
        assert AccountEvent.objects.filter(account_id=theirs).exists()  # the test can fail
        ids = {e["id"] for e in response.json()["results"]}
        assert not AccountEvent.objects.filter(pk__in=ids, account_id=theirs).exists()
    elif expect == "ours_only":
        assert [g["name"] for g in response.json()] == [world.group.name]
    elif expect == "job:0":
        assert response.status_code == 202, body
        assert response.json()["total"] == 0
    elif expect == "created":  # ours, not theirs
        assert response.status_code == 201, body
        assert Webhook.objects.get(pk=response.json()["id"]).account_id == world.ours.account_id
    for marker in (world.theirs.iccid, SECRET_NAME, SECRET_GROUP, SECRET_TAG, SECRET_REASON):
        if marker not in str(data(world)):
            assert marker not in body, marker
    after = db_state()
    if expect == "job:0":
        assert after[:3] == before[:3]  # an empty job, nothing else
    elif expect == "created":
        assert after[:4] == before[:4]  # our new webhook, nothing else
    else:
        assert after == before


def test_every_operation_is_in_the_matrix():
    """A new operation of the API must join CASES and ROLE_CASES."""
    schema = ninja_api.get_openapi_schema()
    operations = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert {case[0] for case in CASES} == operations
    assert {case[0] for case in ROLE_CASES} == operations


# (operation id, method, path, body, least role)
ROLE_CASES = [
    ("list_endpoints", "get", lambda w: "/api/v1/endpoints", lambda w: {}, Role.VIEWER),
    ("get_endpoint", "get", lambda w: f"/api/v1/endpoints/{w.ours.iccid}", lambda w: {},
     Role.VIEWER),
    ("endpoint_history", "get", lambda w: f"/api/v1/endpoints/{w.ours.iccid}/history",
     lambda w: {}, Role.VIEWER),
    ("endpoint_connectivity", "get", lambda w: f"/api/v1/endpoints/{w.ours.iccid}/connectivity",
     lambda w: {}, Role.VIEWER),
    ("edit_endpoint", "patch", lambda w: f"/api/v1/endpoints/{w.ours.iccid}",
     lambda w: {"name": "renamed"}, Role.OPERATOR),
    ("assign_endpoint", "post", lambda w: f"/api/v1/endpoints/{w.ours.iccid}/assign",
     lambda w: {"group": w.other_group.name}, Role.OPERATOR),
    ("suspend_endpoint", "post", lambda w: f"/api/v1/endpoints/{w.ours.iccid}/suspend",
     lambda w: {}, Role.OPERATOR),
    ("terminate_endpoint", "post", lambda w: f"/api/v1/endpoints/{w.ours.iccid}/terminate",
     lambda w: {}, Role.ADMIN),
    ("reset_endpoint", "post", lambda w: f"/api/v1/endpoints/{w.ours.iccid}/reset",
     lambda w: {}, Role.OPERATOR),
    ("bulk_reset", "post", lambda w: "/api/v1/bulk/reset",
     lambda w: {"iccids": [w.ours.iccid]}, Role.OPERATOR),
    ("bulk_assign", "post", lambda w: "/api/v1/bulk/assign",
     lambda w: {"iccids": [w.ours.iccid], "group": w.other_group.name}, Role.OPERATOR),
    ("bulk_suspend", "post", lambda w: "/api/v1/bulk/suspend",
     lambda w: {"iccids": [w.ours.iccid]}, Role.OPERATOR),
    ("bulk_terminate", "post", lambda w: "/api/v1/bulk/terminate",
     lambda w: {"iccids": [w.ours.iccid]}, Role.ADMIN),
    ("list_jobs", "get", lambda w: "/api/v1/jobs", lambda w: {}, Role.VIEWER),
    ("get_job", "get", lambda w: f"/api/v1/jobs/{w.our_job.pk}", lambda w: {}, Role.VIEWER),
    ("cancel_job", "post", lambda w: f"/api/v1/jobs/{w.our_job.pk}/cancel", lambda w: {},
     Role.OPERATOR),
    ("list_groups", "get", lambda w: "/api/v1/groups", lambda w: {}, Role.VIEWER),
    ("get_group", "get", lambda w: f"/api/v1/groups/{w.group.name}", lambda w: {}, Role.VIEWER),
    ("create_group", "post", lambda w: "/api/v1/groups",
     lambda w: {"name": "third", "vslice": w.group.vslice.name, "apn": "third.apn"}, Role.ADMIN),
    ("edit_group", "patch", lambda w: f"/api/v1/groups/{w.other_group.name}",
     lambda w: {"apn": "changed.apn", "data_allowance_mb": 50}, Role.ADMIN),
    ("edit_group", "patch", lambda w: f"/api/v1/groups/{w.other_group.name}",
     lambda w: {"operator_policy": "allow", "policy_countries": ["GB"],
                "policy_plmns": ["26201"]}, Role.ADMIN),
    ("delete_group", "delete", lambda w: f"/api/v1/groups/{w.other_group.name}", lambda w: {},
     Role.ADMIN),
    ("list_network_events", "get", lambda w: "/api/v1/network-events", lambda w: {},
     Role.VIEWER),
    ("list_events", "get", lambda w: "/api/v1/events", lambda w: {}, Role.VIEWER),
    ("list_webhooks", "get", lambda w: "/api/v1/webhooks", lambda w: {}, Role.ADMIN),
    ("create_webhook", "post", lambda w: "/api/v1/webhooks",
     lambda w: {"url": "http://127.0.0.1:9/y", "event_types": ["job.finished"]},
     Role.ADMIN),
    ("get_webhook", "get", lambda w: f"/api/v1/webhooks/{w.our_webhook.pk}", lambda w: {},
     Role.ADMIN),
    ("update_webhook", "patch", lambda w: f"/api/v1/webhooks/{w.our_webhook.pk}",
     lambda w: {"description": "changed"}, Role.ADMIN),
    ("delete_webhook", "delete", lambda w: f"/api/v1/webhooks/{w.our_webhook.pk}",
     lambda w: {}, Role.ADMIN),
    ("rotate_webhook_secret", "post",
     lambda w: f"/api/v1/webhooks/{w.our_webhook.pk}/rotate-secret", lambda w: {}, Role.ADMIN),
    ("test_webhook", "post", lambda w: f"/api/v1/webhooks/{w.our_webhook.pk}/test",
     lambda w: {}, Role.ADMIN),
    ("activate_sim", "post", lambda w: "/api/v1/activations",
     lambda w: {"iccid": w.stock_iccid, "activation_code": OUR_CODE}, Role.OPERATOR),
]  # fmt: skip


@dataclass
class RoleWorld:
    ours: Endpoint
    group: object
    other_group: object
    our_job: Job
    our_webhook: Webhook
    stock_iccid: str


@pytest.fixture
def role_world(account, group):
    stock_iccid = "8944990000000000011"
    StockSim.objects.create(
        iccid=stock_iccid, imsis=["234159900000001"], code_hash=activation_codes.make_hash(OUR_CODE)
    )
    return RoleWorld(
        ours=EndpointFactory(account=account, state=State.ACTIVE, primary_group=group),
        group=group,
        other_group=GroupFactory(account=account, name="second", vslice=group.vslice),
        our_job=Job.objects.create(account=account, action=Action.SUSPEND),
        our_webhook=Webhook.objects.create(
            account=account,
            url="http://127.0.0.1:9/hook",  # loopback: allowed in the test settings
            event_types=["job.finished"],
            secret="whsec_" + "B" * 32,
        ),
        stock_iccid=stock_iccid,
    )


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize(
    ("method", "path", "data", "least"),
    [case[1:] for case in ROLE_CASES],
    ids=[case[0] for case in ROLE_CASES],
)
def test_each_role_gets_what_it_may(account, role_world, role, method, path, data, least):
    client = ApiClient(make_token(account, role)[1])
    before = db_state()
    response = _call(client, method, path(role_world), data(role_world))
    if role.rank < least.rank:
        assert response.status_code == 403, response.content
        assert db_state() == before
    else:
        assert response.status_code in (200, 201, 202, 204), response.content
        # Allowed: a read changes nothing, a change is in the database.
        assert (db_state() == before) == (method == "get"), (method, response.content)


@pytest.mark.django_db
def test_a_tokens_creator_counts_in_the_tokens_account_only(account, other_account):
    """The creator's role is read in the token's own account: being an admin of
    another account keeps nothing alive here (api/auth.py)."""
    from api.tokens import create_token
    from portal.models import Member
    from tests.factories import MemberFactory

    ours = MemberFactory(account=account, role=Role.ADMIN)
    MemberFactory(account=other_account, user=ours.user, role=Role.ADMIN)
    _, plain = create_token(
        account=account, name="ci", role=Role.ADMIN, created_by=ours.user, creator_role=Role.ADMIN
    )
    api = ApiClient(plain)
    assert api.get("/api/v1/webhooks").status_code == 200

    Member.objects.filter(pk=ours.pk).update(role=Role.VIEWER)  # bypassing team/grants.py
    assert api.get("/api/v1/webhooks").status_code == 403
    Member.objects.filter(pk=ours.pk).delete()
    assert api.get("/api/v1/endpoints").status_code == 401
