"""Nothing crosses accounts: every portal URL and method, given another account's
endpoint, group or tag (in the path, in a form, in a bulk POST, in a filter),
answers 404 or a form error / empty result, shows nothing of it, and changes
nothing in the database. Also: viewers get 403 on every POST, and every POST
needs its CSRF token, HTMX requests included.

The matrix is run by an admin of our account: the strongest role, so a refusal
is tenancy and never a missing permission.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from inventory.models import (
    AllocationKind,
    Endpoint,
    EventStatus,
    EventType,
    Group,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from jobs.models import Action, Job, JobState
from portal.models import Role
from tests.factories import EndpointFactory, GroupFactory, MemberFactory
from tests.portal.test_auth_and_accounts import ROUTES, route_url, token_of

SECRET_NAME = "northwind-secret-truck"
SECRET_TAG = "nw-secret-tag"
SECRET_GROUP = "northwind-secret-group"
SECRET_IMSI = "310150000777777"
SECRET_JOB_REASON = "northwind-secret-recall"
SECRET_JOB_USER = "nw-secret-operator"


@dataclass
class World:
    ours: Endpoint  # pending, in our account
    ours_active: Endpoint
    group: object  # our group
    theirs: Endpoint  # active, in the other account
    their_group: object
    our_job: Job
    their_job: Job
    markers: list[str] = field(default_factory=list)  # never to be shown to us


@pytest.fixture
def world(account, other_account, group):
    their_group = GroupFactory(
        account=other_account, name=SECRET_GROUP, vslice__subnet="100.64.0.0/16"
    )
    theirs = EndpointFactory(
        account=other_account,
        state=State.ACTIVE,
        primary_group=their_group,
        name=SECRET_NAME,
        reference="NW-REF-123",
        tags=[SECRET_TAG],
        imsis=0,
    )
    theirs.imsis.create(account=other_account, imsi=SECRET_IMSI)
    IPAllocation.objects.create(
        account=other_account,
        endpoint=theirs,
        group=their_group,
        vslice=their_group.vslice,
        address="100.64.0.77",
        kind=AllocationKind.STATIC,
    )
    History.objects.create(
        account=other_account, endpoint=theirs, actor_kind="system", action="created"
    )
    NetworkEvent.objects.create(
        event_id="nw-evt-1",
        account=other_account,
        endpoint=theirs,
        group=their_group,
        type=EventType.ATTACH,
        imsi=SECRET_IMSI,
        at=timezone.now(),
        status=EventStatus.ACCEPTED,
    )
    their_job = Job.objects.create(
        account=other_account,
        action=Action.SUSPEND,
        state=JobState.RUNNING,
        total=1,
        reason=SECRET_JOB_REASON,
        created_by_label=SECRET_JOB_USER,
    )
    their_job.targets.create(position=0, endpoint_id=theirs.pk)
    # Tokens of both accounts exist before anything is compared (route_url's).
    token_of(account.pk)
    token_of(other_account.pk)
    ours = EndpointFactory(account=account, name="vantiq-car")
    ours_active = EndpointFactory(
        account=account, state=State.ACTIVE, primary_group=group, name="vantiq-active"
    )
    return World(
        ours=ours,
        ours_active=ours_active,
        group=group,
        theirs=theirs,
        their_group=their_group,
        our_job=Job.objects.create(account=account, action=Action.SUSPEND, created_by_label="adm"),
        their_job=their_job,
        markers=[
            theirs.iccid,
            SECRET_NAME,
            SECRET_TAG,
            SECRET_GROUP,
            SECRET_IMSI,
            "NW-REF-123",
            SECRET_JOB_REASON,
            SECRET_JOB_USER,
        ],
    )


def db_state() -> tuple:
    """Everything any portal action could change, for every account."""
    return (
        sorted(
            Endpoint.objects.values_list(
                "iccid", "state", "primary_group_id", "name", "reference", "tags", "imei"
            )
        ),
        History.objects.count(),
        sorted(IPAllocation.objects.values_list("endpoint_id", "group_id", "address", "kind")),
        sorted(SecondaryMembership.objects.values_list("endpoint_id", "group_id")),
        SessionTeardown.objects.count(),
        sorted(Job.objects.values_list("pk", "state", "cancel_requested", "position")),
        sorted(ApiToken.objects.values_list("pk", "account_id", "revoked_at")),
        sorted(Group.objects.values_list("pk", "account_id", "name", "vslice_id", "apn")),
    )


def content(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def filter_query(**params) -> str:
    return urlencode(params)


# Each case: (id, method, url builder, data builder, expectation).
# Expectations: "404"; "empty" (200, nothing of theirs); "form_error:<text>";
# "redirect:<text>" (back to the list, which says why nothing was done);
# "preview_ours_only" (a confirmation page listing only our endpoint).
def _detail(name):
    return lambda w: reverse(name, args=[w.theirs.iccid])


CASES = [
    ("list ?q=their iccid", "get", lambda w: reverse("inventory:endpoint_list"),
     lambda w: {"q": w.theirs.iccid}, "empty"),
    ("list ?q=their iccid suffix", "get", lambda w: reverse("inventory:endpoint_list"),
     lambda w: {"q": w.theirs.iccid[-6:]}, "empty"),
    ("list ?q=their imsi", "get", lambda w: reverse("inventory:endpoint_list"),
     lambda w: {"q": SECRET_IMSI}, "empty"),
    ("list ?q=their name", "get", lambda w: reverse("inventory:endpoint_list"),
     lambda w: {"q": "northwind-secret"}, "empty"),
    ("list ?tag=their tag", "get", lambda w: reverse("inventory:endpoint_list"),
     lambda w: {"tag": SECRET_TAG}, "empty"),
    ("list ?group=their group", "get", lambda w: reverse("inventory:endpoint_list"),
     lambda w: {"group": w.their_group.pk}, "form_error:not one of this account"),
    ("export ?q=their iccid", "get", lambda w: reverse("inventory:endpoint_export"),
     lambda w: {"q": w.theirs.iccid}, "empty"),
    ("export ?tag=their tag", "get", lambda w: reverse("inventory:endpoint_export"),
     lambda w: {"tag": SECRET_TAG}, "empty"),
    ("export ?group=their group", "get", lambda w: reverse("inventory:endpoint_export"),
     lambda w: {"group": w.their_group.pk}, "redirect:not one of this account"),
    ("bulk assign their ids", "post", lambda w: reverse("inventory:endpoint_bulk_assign"),
     lambda w: {"ids": [w.theirs.iccid], "group": w.group.pk, "confirm": "1"}, "404"),
    ("bulk assign our ids to their group", "post",
     lambda w: reverse("inventory:endpoint_bulk_assign"),
     lambda w: {"ids": [w.ours.iccid], "group": w.their_group.pk, "confirm": "1"},
     "form_error:not one of this account"),
    ("bulk assign all matching their group", "post",
     lambda w: reverse("inventory:endpoint_bulk_assign"),
     lambda w: {"select_all": "1", "filter": filter_query(group=w.their_group.pk),
                "group": w.group.pk, "confirm": "1"}, "redirect:not valid any more"),
    ("bulk assign all matching their iccid", "post",
     lambda w: reverse("inventory:endpoint_bulk_assign"),
     lambda w: {"select_all": "1", "filter": filter_query(q=w.theirs.iccid),
                "group": w.group.pk, "confirm": "1"}, "redirect:No endpoints match"),
    ("bulk suspend their ids", "post", lambda w: reverse("inventory:endpoint_bulk_suspend"),
     lambda w: {"ids": [w.theirs.iccid], "confirm": "1"}, "404"),
    ("bulk suspend their ids mixed with ours", "post",
     lambda w: reverse("inventory:endpoint_bulk_suspend"),
     lambda w: {"ids": [w.theirs.iccid, w.ours_active.iccid]}, "preview_ours_only"),
    ("bulk suspend all matching their tag", "post",
     lambda w: reverse("inventory:endpoint_bulk_suspend"),
     lambda w: {"select_all": "1", "filter": filter_query(tag=SECRET_TAG), "confirm": "1"},
     "redirect:No endpoints match"),
    ("bulk terminate their ids", "post", lambda w: reverse("inventory:endpoint_bulk_terminate"),
     lambda w: {"ids": [w.theirs.iccid], "confirm": "1"}, "404"),
    ("bulk terminate all matching their iccid", "post",
     lambda w: reverse("inventory:endpoint_bulk_terminate"),
     lambda w: {"select_all": "1", "filter": filter_query(q=w.theirs.iccid), "confirm": "1"},
     "redirect:No endpoints match"),
    ("detail overview", "get", _detail("inventory:endpoint_detail"), lambda w: {}, "404"),
    ("detail ip addresses", "get", _detail("inventory:endpoint_ips"), lambda w: {}, "404"),
    ("detail history", "get", _detail("inventory:endpoint_history"), lambda w: {}, "404"),
    ("detail usage", "get", _detail("inventory:endpoint_usage"), lambda w: {}, "404"),
    ("detail usage 90 days", "get", _detail("inventory:endpoint_usage"),
     lambda w: {"days": "90"}, "404"),
    ("dashboard", "get", lambda w: reverse("inventory:dashboard"), lambda w: {}, "empty"),
    ("edit GET", "get", _detail("inventory:endpoint_edit"), lambda w: {}, "404"),
    ("edit POST", "post", _detail("inventory:endpoint_edit"),
     lambda w: {"name": "taken over", "tags": "", f"static_ip_{w.their_group.pk}": ""}, "404"),
    ("edit POST our endpoint into their group", "post",
     lambda w: reverse("inventory:endpoint_edit", args=[w.ours_active.iccid]),
     lambda w: {"name": "x", "secondary_groups": [w.their_group.pk]},
     "form_error:Select a valid choice"),
    ("suspend GET", "get", _detail("inventory:endpoint_suspend"), lambda w: {}, "404"),
    ("suspend POST", "post", _detail("inventory:endpoint_suspend"),
     lambda w: {"confirm": "1"}, "404"),
    ("terminate GET", "get", _detail("inventory:endpoint_terminate"), lambda w: {}, "404"),
    ("terminate POST", "post", _detail("inventory:endpoint_terminate"),
     lambda w: {"confirm": "1"}, "404"),
    ("group edit GET of theirs", "get",
     lambda w: reverse("inventory:group_edit", args=[w.their_group.pk]), lambda w: {}, "404"),
    ("group edit POST of theirs", "post",
     lambda w: reverse("inventory:group_edit", args=[w.their_group.pk]),
     lambda w: {"name": "taken", "vslice": w.group.vslice_id, "apn": "a.b",
                "warning_percent": "80"}, "404"),
    ("group create in their VSlice", "post", lambda w: reverse("inventory:group_create"),
     lambda w: {"name": "mine", "vslice": w.their_group.vslice_id, "apn": "a.b",
                "warning_percent": "80"}, "form_error:Select a valid choice"),
    ("group edit POST ours into their VSlice", "post",
     lambda w: reverse("inventory:group_edit", args=[w.group.pk]),
     lambda w: {"name": w.group.name, "vslice": w.their_group.vslice_id, "apn": "a.b",
                "warning_percent": "80"}, "form_error:Select a valid choice"),
    ("group delete GET of theirs", "get",
     lambda w: reverse("inventory:group_delete", args=[w.their_group.pk]), lambda w: {}, "404"),
    ("group delete POST of theirs", "post",
     lambda w: reverse("inventory:group_delete", args=[w.their_group.pk]), lambda w: {}, "404"),
    ("groups ?group=their group", "get", lambda w: reverse("inventory:group_list"),
     lambda w: {"group": w.their_group.pk}, "empty"),
    ("events ?endpoint=their iccid", "get", lambda w: reverse("inventory:event_list"),
     lambda w: {"endpoint": w.theirs.iccid}, "empty"),
    ("jobs list", "get", lambda w: reverse("jobs:job_list"), lambda w: {}, "empty"),
    ("jobs list ?state=running (theirs is)", "get", lambda w: reverse("jobs:job_list"),
     lambda w: {"state": "running"}, "empty"),
    ("job detail of theirs", "get", lambda w: reverse("jobs:job_detail", args=[w.their_job.pk]),
     lambda w: {}, "404"),
    ("job detail of theirs, its endpoints page", "get",
     lambda w: reverse("jobs:job_detail", args=[w.their_job.pk]), lambda w: {"after": "0"}, "404"),
    ("job cancel of theirs", "post", lambda w: reverse("jobs:job_cancel", args=[w.their_job.pk]),
     lambda w: {}, "404"),
    ("api tokens list", "get", lambda w: reverse("api_tokens:token_list"), lambda w: {}, "empty"),
    ("revoke GET of their token", "get",
     lambda w: reverse("api_tokens:token_revoke", args=[token_of(w.theirs.account_id).pk]),
     lambda w: {}, "404"),
    ("revoke POST of their token", "post",
     lambda w: reverse("api_tokens:token_revoke", args=[token_of(w.theirs.account_id).pk]),
     lambda w: {}, "404"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "data", "expect"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_another_accounts_objects_are_out_of_reach(
    client, admin_member, world, method, url, data, expect
):
    client.force_login(admin_member)
    before = db_state()

    posted = data(world)
    response = getattr(client, method)(url(world), posted)

    body = content(response)
    if expect == "404":
        assert response.status_code == 404
    elif expect == "empty":
        assert response.status_code == 200
    elif expect.startswith("form_error:"):
        assert response.status_code == 200
        assert expect.split(":", 1)[1] in body
    elif expect.startswith("redirect:"):
        # Back to the list, which says why nothing was done.
        assert response.status_code in (302, 303)
        assert response["Location"].startswith(reverse("inventory:endpoint_list"))
        body += content(client.get(response["Location"]))
        assert expect.split(":", 1)[1] in body
    elif expect == "preview_ours_only":
        assert response.status_code == 200
        assert world.ours_active.iccid in body
    # What we typed is echoed back (search box, export link); anything else of
    # theirs on the page would mean one of their rows was shown.
    for marker in world.markers:
        if marker not in str(posted):
            assert marker not in body, marker
    assert db_state() == before


@pytest.mark.django_db
def test_every_route_is_in_the_matrix():
    """A new portal URL must join the matrix above (and the route list)."""
    covered = {name for _, name in ROUTES}
    from api import account_urls
    from inventory import urls
    from jobs import urls as job_urls

    assert covered == (
        {f"inventory:{pattern.name}" for pattern in urls.urlpatterns}
        | {f"jobs:{pattern.name}" for pattern in job_urls.urlpatterns}
        | {f"api_tokens:{pattern.name}" for pattern in account_urls.urlpatterns}
    )


# --- roles and CSRF on every POST ----------------------------------------------------

POSTS = [(method, name) for method, name in ROUTES if method == "post"]


def post_data(name: str, world: World) -> dict:
    endpoint = world.ours_active
    if name.startswith("inventory:endpoint_bulk"):
        return {"ids": [endpoint.iccid, world.ours.iccid], "group": world.group.pk, "confirm": "1"}
    if name == "inventory:endpoint_edit":
        return {"name": "changed", "reference": "", "tags": "", "imei": ""}
    return {"confirm": "1"}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name"), POSTS, ids=[name for _, name in POSTS])
def test_viewer_is_refused_every_post(client, account, world, method, name):
    viewer = MemberFactory(account=account, role=Role.VIEWER).user
    client.force_login(viewer)
    before = db_state()

    response = client.post(route_url(name, world.ours_active), post_data(name, world))

    assert response.status_code == 403
    assert db_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(("method", "name"), POSTS, ids=[name for _, name in POSTS])
def test_every_post_needs_its_csrf_token(admin_member, world, method, name, htmx):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_member)
    headers = {"HX-Request": "true"} if htmx else {}
    before = db_state()

    response = client.post(
        route_url(name, world.ours_active), post_data(name, world), headers=headers
    )

    assert response.status_code == 403
    assert db_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name"), ROUTES, ids=[f"{m} {n}" for m, n in ROUTES])
def test_anonymous_is_sent_to_login(client, world, method, name):
    before = db_state()
    url = route_url(name, world.theirs)
    response = getattr(client, method)(url, post_data(name, world) if method == "post" else {})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert db_state() == before
