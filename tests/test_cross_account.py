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
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import audit
from api.models import ApiToken
from api.tokens import create_token
from audit.models import AuditAction
from events.models import AccountEvent
from events.models import EventType as AccountEventType
from inventory import activation_codes
from inventory.models import (
    AllocationKind,
    Endpoint,
    EventStatus,
    EventType,
    Group,
    History,
    IPAllocation,
    KeyValue,
    NetworkEvent,
    SecondaryMembership,
    SessionTeardown,
    State,
    StockSim,
)
from jobs.models import Action, Job, JobState
from portal.models import Account, Member, Role
from team.models import Invitation, InvitationRevoked
from tests.factories import EndpointFactory, GroupFactory, MemberFactory
from tests.portal.test_auth_and_accounts import (
    PERSONAL,
    ROUTES,
    route_url,
    token_of,
    webhook_of,
)
from webhooks.models import Attempt, AttemptKind, Webhook

SECRET_NAME = "northwind-secret-truck"
SECRET_TAG = "nw-secret-tag"
SECRET_GROUP = "northwind-secret-group"
SECRET_IMSI = "310150000777777"
SECRET_JOB_REASON = "northwind-secret-recall"
SECRET_JOB_USER = "nw-secret-operator"
SECRET_WEBHOOK = "nw-secret-webhook"
#: The activation code of a SIM the other account claimed from stock.
THEIR_CODE = "NWSECRET01"
SECRET_KV_VALUE = "northwind-secret-depot"
SECRET_INVITEE = "nw-secret-invitee@northwind.example"
SECRET_REVOKED_INVITEE = "nw-secret-revoked@northwind.example"
SECRET_TOKEN = "northwind-secret-token"


@dataclass
class World:
    ours: Endpoint  # pending, in our account
    ours_active: Endpoint
    group: object  # our group
    theirs: Endpoint  # active, in the other account
    their_group: object
    our_job: Job
    their_job: Job
    their_webhook: Webhook
    our_webhook: Webhook
    their_event: AccountEvent
    their_member: Member
    their_invitation: Invitation
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
    their_membership = MemberFactory(
        account=other_account, role=Role.ADMIN, user__username=SECRET_JOB_USER
    )
    their_member = their_membership.user
    MemberFactory(account=other_account, role=Role.VIEWER, user__username="nw-viewer")
    their_invitation = Invitation.objects.create(
        account=other_account, email=SECRET_INVITEE, role=Role.ADMIN
    )
    # A token their admin made: its name and creator show on their tokens page only.
    create_token(
        account=other_account,
        name=SECRET_TOKEN,
        role=Role.ADMIN,
        created_by=their_member,
        creator_role=Role.ADMIN,
    )
    # Revoked with their sender's membership: listed on their Members page only.
    Invitation.objects.create(
        account=other_account,
        email=SECRET_REVOKED_INVITEE,
        invited_by=their_member,
        revoked_at=timezone.now(),
        revoked_because=InvitationRevoked.CREATOR_REMOVED,
    )
    audit.record(
        action=AuditAction.BULK_JOB_STARTED,
        account=other_account,
        actor=their_member,
        target=SECRET_JOB_REASON,
    )
    audit.record(action=AuditAction.SIGN_IN, account=None, actor=their_member)
    # Our own member and invitation, for the team routes (route_url finds them).
    MemberFactory(account=account, role=Role.VIEWER, user__username="vantiq-viewer")
    Invitation.objects.create(account=account, email=f"invited-{account.pk}@example.com")
    # Tokens of both accounts exist before anything is compared (route_url's).
    token_of(account.pk)
    token_of(other_account.pk)
    their_webhook = webhook_of(other_account.pk)
    their_webhook.description = SECRET_WEBHOOK
    their_webhook.save()
    their_event = AccountEvent.objects.create(
        account=other_account,
        type=AccountEventType.STATE_CHANGED,
        endpoint_id=theirs.pk,
        payload={"version": 1, "endpoint": {"id": theirs.pk, "iccid": theirs.iccid}},
    )
    Attempt.objects.create(
        webhook=their_webhook, event=their_event, kind=AttemptKind.DELIVERY, status_code=200
    )
    KeyValue.objects.create(
        account=other_account, endpoint=theirs, key="depot", value=SECRET_KV_VALUE
    )
    StockSim.objects.create(
        iccid=theirs.iccid,
        imsis=[SECRET_IMSI],
        code_hash=activation_codes.make_hash(THEIR_CODE),
        claimed_at=timezone.now(),
        claimed_by=other_account,
    )
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
        their_webhook=their_webhook,
        our_webhook=webhook_of(account.pk),
        their_event=their_event,
        their_member=their_membership,
        their_invitation=their_invitation,
        markers=[
            SECRET_WEBHOOK,
            their_webhook.url,
            SECRET_INVITEE,
            SECRET_REVOKED_INVITEE,
            SECRET_TOKEN,
            theirs.iccid,
            SECRET_NAME,
            SECRET_TAG,
            SECRET_GROUP,
            SECRET_IMSI,
            "NW-REF-123",
            SECRET_JOB_REASON,
            SECRET_JOB_USER,
            SECRET_KV_VALUE,
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
        sorted(ApiToken.objects.values_list("pk", "account_id", "role", "revoked_at")),
        sorted(Member.objects.values_list("account_id", "user_id", "role")),
        sorted(Invitation.objects.values_list("pk", "accepted_at", "revoked_at")),
        sorted(Account.objects.values_list("pk", "require_mfa")),
        sorted(
            Webhook.objects.values_list(
                "pk", "url", "description", "enabled", "secret", "event_types"
            )
        ),
        AccountEvent.objects.count(),
        Attempt.objects.count(),
        queued_tasks(),
        sorted(StockSim.objects.values_list("iccid", "claimed_by_id")),
        sorted(KeyValue.objects.values_list("endpoint_id", "key", "value")),
        sorted(Group.objects.values_list("pk", "account_id", "name", "vslice_id", "apn")),
    )


def queued_tasks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs")
        return cursor.fetchone()[0]


def content(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def filter_query(**params) -> str:
    return urlencode(params)


# Each case: (id, method, url builder, data builder, expectation).
# Expectations: "404"; "empty" (200, nothing of theirs); "form_error:<text>";
# "redirect:<text>" (back to the list, which says why nothing was done);
# "preview_ours_only" (a confirmation page listing only our endpoint);
# "back:<url name>" (a redirect to that page).
def _detail(name):
    return lambda w: reverse(name, args=[w.theirs.iccid])


def _webhook(name):
    return lambda w: reverse(name, args=[w.their_webhook.pk])


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
    ("list ?kv=their pair", "get", lambda w: reverse("inventory:endpoint_list"),
     lambda w: {"kv": f"depot:{SECRET_KV_VALUE}"}, "empty"),
    ("export ?kv=their pair", "get", lambda w: reverse("inventory:endpoint_export"),
     lambda w: {"kv": f"depot:{SECRET_KV_VALUE}"}, "empty"),
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
    ("bulk suspend all matching their pair", "post",
     lambda w: reverse("inventory:endpoint_bulk_suspend"),
     lambda w: {"select_all": "1", "filter": filter_query(kv=f"depot:{SECRET_KV_VALUE}"),
                "confirm": "1"}, "redirect:No endpoints match"),
    ("bulk set key value on their ids", "post",
     lambda w: reverse("inventory:endpoint_bulk_set_key_value"),
     lambda w: {"ids": [w.theirs.iccid], "key": "depot", "value": "x", "confirm": "1"}, "404"),
    ("bulk set key value on their ids mixed with ours", "post",
     lambda w: reverse("inventory:endpoint_bulk_set_key_value"),
     lambda w: {"ids": [w.theirs.iccid, w.ours_active.iccid], "key": "depot", "value": "x"},
     "preview_ours_only"),
    ("bulk set key value on all matching their pair", "post",
     lambda w: reverse("inventory:endpoint_bulk_set_key_value"),
     lambda w: {"select_all": "1", "filter": filter_query(kv=f"depot:{SECRET_KV_VALUE}"),
                "key": "depot", "value": "x", "confirm": "1"}, "redirect:No endpoints match"),
    ("bulk terminate their ids", "post", lambda w: reverse("inventory:endpoint_bulk_terminate"),
     lambda w: {"ids": [w.theirs.iccid], "confirm": "1"}, "404"),
    ("bulk terminate all matching their iccid", "post",
     lambda w: reverse("inventory:endpoint_bulk_terminate"),
     lambda w: {"select_all": "1", "filter": filter_query(q=w.theirs.iccid), "confirm": "1"},
     "redirect:No endpoints match"),
    ("detail overview", "get", _detail("inventory:endpoint_detail"), lambda w: {}, "404"),
    ("detail ip addresses", "get", _detail("inventory:endpoint_ips"), lambda w: {}, "404"),
    ("detail history", "get", _detail("inventory:endpoint_history"), lambda w: {}, "404"),
    ("detail key values", "get", _detail("inventory:endpoint_key_values"), lambda w: {}, "404"),
    ("key values POST", "post", _detail("inventory:endpoint_key_values"),
     lambda w: {"key": ["depot"], "value": ["taken over"]}, "404"),
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
    ("reset GET", "get", _detail("inventory:endpoint_reset"), lambda w: {}, "404"),
    ("reset POST", "post", _detail("inventory:endpoint_reset"),
     lambda w: {"confirm": "1"}, "404"),
    ("bulk reset their ids", "post", lambda w: reverse("inventory:endpoint_bulk_reset"),
     lambda w: {"ids": [w.theirs.iccid], "confirm": "1"}, "404"),
    ("group edit POST of theirs with an operator policy", "post",
     lambda w: reverse("inventory:group_edit", args=[w.their_group.pk]),
     lambda w: {"name": "taken", "vslice": w.group.vslice_id, "apn": "a.b",
                "warning_percent": "80", "operator_policy": "block",
                "policy_countries": "DE"}, "404"),
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
    ("activity", "get", lambda w: reverse("inventory:activity_list"), lambda w: {}, "empty"),
    ("activity ?endpoint=their iccid", "get", lambda w: reverse("inventory:activity_list"),
     lambda w: {"endpoint": w.theirs.iccid}, "empty"),
    ("jobs list", "get", lambda w: reverse("jobs:job_list"), lambda w: {}, "empty"),
    ("jobs list ?state=running (theirs is)", "get", lambda w: reverse("jobs:job_list"),
     lambda w: {"state": "running"}, "empty"),
    ("job detail of theirs", "get", lambda w: reverse("jobs:job_detail", args=[w.their_job.pk]),
     lambda w: {}, "404"),
    ("job detail of theirs, its endpoints page", "get",
     lambda w: reverse("jobs:job_detail", args=[w.their_job.pk]), lambda w: {"after": "0"}, "404"),
    ("activate their claimed SIM with its code", "post", lambda w: reverse("inventory:activate"),
     lambda w: {"iccid": w.theirs.iccid, "code": THEIR_CODE},
     "form_error:No SIM could be activated"),
    ("job cancel of theirs", "post", lambda w: reverse("jobs:job_cancel", args=[w.their_job.pk]),
     lambda w: {}, "404"),
    ("api tokens list", "get", lambda w: reverse("api_tokens:token_list"), lambda w: {}, "empty"),
    ("api tokens ?creator=their admin", "get", lambda w: reverse("api_tokens:token_list"),
     lambda w: {"creator": SECRET_JOB_USER}, "form_error:Select a valid choice"),
    ("api tokens ?role=admin&used=never", "get", lambda w: reverse("api_tokens:token_list"),
     lambda w: {"role": "admin", "used": "never"}, "empty"),
    ("api tokens ?page=2&used=stale&days=1", "get", lambda w: reverse("api_tokens:token_list"),
     lambda w: {"page": "2", "used": "stale", "days": "1"}, "empty"),
    ("revoke GET of their token", "get",
     lambda w: reverse("api_tokens:token_revoke", args=[token_of(w.theirs.account_id).pk]),
     lambda w: {}, "404"),
    ("revoke POST of their token", "post",
     lambda w: reverse("api_tokens:token_revoke", args=[token_of(w.theirs.account_id).pk]),
     lambda w: {}, "404"),
    ("audit log", "get", lambda w: reverse("audit:audit_log"), lambda w: {}, "empty"),
    ("audit log ?action=their event", "get", lambda w: reverse("audit:audit_log"),
     lambda w: {"action": "bulk_job_started"}, "empty"),
    ("audit log ?actor=their member", "get", lambda w: reverse("audit:audit_log"),
     lambda w: {"actor": SECRET_JOB_USER}, "empty"),
    ("audit export", "get", lambda w: reverse("audit:audit_export"), lambda w: {}, "empty"),
    ("audit export ?action=sign in", "get", lambda w: reverse("audit:audit_export"),
     lambda w: {"action": "sign_in"}, "empty"),
    ("members list", "get", lambda w: reverse("team:member_list"), lambda w: {}, "empty"),
    ("member role of theirs", "post",
     lambda w: reverse("team:member_role", args=[w.their_member.pk]),
     lambda w: {"role": "viewer"}, "404"),
    ("member remove GET of theirs", "get",
     lambda w: reverse("team:member_remove", args=[w.their_member.pk]), lambda w: {}, "404"),
    ("member remove POST of theirs", "post",
     lambda w: reverse("team:member_remove", args=[w.their_member.pk]), lambda w: {}, "404"),
    ("invitation withdraw of theirs", "post",
     lambda w: reverse("team:invitation_withdraw", args=[w.their_invitation.pk]),
     lambda w: {}, "404"),
    ("password change page", "get", lambda w: reverse("password_change"), lambda w: {}, "empty"),
    ("security page", "get", lambda w: reverse("security:overview"), lambda w: {}, "empty"),
    ("require two-factor, naming their account", "post",
     lambda w: reverse("security:require"),
     lambda w: {"require_mfa": "", "account": w.theirs.account_id}, "back:security:overview"),
    ("webhooks list", "get", lambda w: reverse("webhooks:webhook_list"), lambda w: {}, "empty"),
    ("webhook detail of theirs", "get", _webhook("webhooks:webhook_detail"), lambda w: {}, "404"),
    ("webhook edit GET of theirs", "get", _webhook("webhooks:webhook_edit"), lambda w: {}, "404"),
    ("webhook edit POST of theirs", "post", _webhook("webhooks:webhook_edit"),
     lambda w: {"url": "http://127.0.0.1:1/x", "event_types": ["job.finished"], "enabled": "on"},
     "404"),
    ("webhook delete GET of theirs", "get", _webhook("webhooks:webhook_delete"),
     lambda w: {}, "404"),
    ("webhook delete POST of theirs", "post", _webhook("webhooks:webhook_delete"),
     lambda w: {}, "404"),
    ("webhook rotate of theirs", "post", _webhook("webhooks:webhook_rotate"), lambda w: {}, "404"),
    ("webhook test of theirs", "post", _webhook("webhooks:webhook_test"), lambda w: {}, "404"),
    ("webhook redeliver of theirs", "post", _webhook("webhooks:webhook_redeliver"),
     lambda w: {"event": w.their_event.pk}, "404"),
    ("webhook redeliver their event to ours", "post",
     lambda w: reverse("webhooks:webhook_redeliver", args=[w.our_webhook.pk]),
     lambda w: {"event": w.their_event.pk}, "404"),
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
    elif expect.startswith("back:"):
        assert response.status_code == 302
        assert response["Location"] == reverse(expect.split(":", 1)[1])
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
    from audit import urls as audit_urls
    from inventory import urls
    from jobs import urls as job_urls
    from portal.two_factor import urls as security_urls
    from team import urls as team_urls
    from usage import urls as usage_urls
    from webhooks import urls as webhook_urls

    assert covered == (
        # The inventory's paths, and usage's included into its namespace.
        {f"inventory:{pattern.name}" for pattern in urls.urlpatterns if hasattr(pattern, "name")}
        | {f"inventory:{pattern.name}" for pattern in usage_urls.urlpatterns}
        | {f"jobs:{pattern.name}" for pattern in job_urls.urlpatterns}
        | {f"api_tokens:{pattern.name}" for pattern in account_urls.urlpatterns}
        | {f"audit:{pattern.name}" for pattern in audit_urls.urlpatterns}
        | {f"team:{pattern.name}" for pattern in team_urls.urlpatterns}
        | {"password_change"}
        | {f"security:{pattern.name}" for pattern in security_urls.urlpatterns}
        | {f"webhooks:{pattern.name}" for pattern in webhook_urls.urlpatterns}
    )


# --- roles and CSRF on every POST ----------------------------------------------------

POSTS = [(method, name) for method, name in ROUTES if method == "post"]
#: Every POST but those of a user's own sign-in, which every role may make.
ROLE_POSTS = [(method, name) for method, name in POSTS if name not in PERSONAL]


def post_data(name: str, world: World) -> dict:
    endpoint = world.ours_active
    if name == "team:member_invite":
        return {"email": "someone@vantiq.example", "role": "viewer"}
    if name == "team:member_role":
        return {"role": "admin"}
    if name.startswith("inventory:endpoint_bulk"):
        return {"ids": [endpoint.iccid, world.ours.iccid], "group": world.group.pk, "confirm": "1"}
    if name == "inventory:endpoint_edit":
        return {"name": "changed", "reference": "", "tags": "", "imei": ""}
    if name in ("webhooks:webhook_create", "webhooks:webhook_edit"):
        return {"url": "http://127.0.0.1:9/in", "event_types": ["job.finished"], "enabled": "on"}
    if name == "webhooks:webhook_redeliver":
        return {"event": "1"}
    if name == "inventory:endpoint_key_values":
        return {"key": ["fleet"], "value": ["changed"]}
    return {"confirm": "1"}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name"), ROLE_POSTS, ids=[name for _, name in ROLE_POSTS])
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


# --- the provider's RADIUS clients: staff only -----------------------------------------

RADIUS_SECRET = "provider-nas-secret-0001"


def _radius_client():
    from network.models import RadiusClient

    nas = RadiusClient(name="provider-pgw", address="10.20.0.5/32")
    nas.set_secret(RADIUS_SECRET)
    nas.save()
    return nas


RADIUS_CASES = [
    ("RADIUS clients list", "get", lambda nas: "/admin/network/radiusclient/", {}),
    ("RADIUS client add GET", "get", lambda nas: "/admin/network/radiusclient/add/", {}),
    ("RADIUS client add POST", "post", lambda nas: "/admin/network/radiusclient/add/",
     {"name": "mine", "address": "192.0.2.0/24", "secret": "x" * 20, "coa_port": "3799"}),
    ("RADIUS client change GET", "get",
     lambda nas: f"/admin/network/radiusclient/{nas.pk}/change/", {}),
    ("RADIUS client change POST", "post",
     lambda nas: f"/admin/network/radiusclient/{nas.pk}/change/",
     {"name": "taken-over", "address": "0.0.0.0/0", "secret": "y" * 20, "coa_port": "1"}),
    ("RADIUS sessions list", "get", lambda nas: "/admin/network/radiussession/", {}),
    ("RADIUS disconnects list", "get", lambda nas: "/admin/network/radiusdisconnect/", {}),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "data"), [c[1:] for c in RADIUS_CASES], ids=[c[0] for c in RADIUS_CASES]
)
def test_radius_clients_are_out_of_a_customers_reach(client, admin_member, method, url, data):
    """The NAS list belongs to the provider: an account's admin (not staff) is
    sent to the admin's sign-in, sees nothing of it and changes nothing."""
    from network.models import RadiusClient

    nas = _radius_client()
    before = sorted(RadiusClient.objects.values_list("pk", "name", "address", "secret_encrypted"))
    client.force_login(admin_member)
    response = getattr(client, method)(url(nas), data)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert "provider-pgw" not in content(response) and RADIUS_SECRET not in content(response)
    after = sorted(RadiusClient.objects.values_list("pk", "name", "address", "secret_encrypted"))
    assert after == before


# --- operations endpoints -------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_show_no_accounts_data(admin_member, world):
    """/metrics (portal/health.py) holds aggregates only: none of the other
    account's names, tags, IMSIs or job reasons, nor any account's slug; and a
    signed-in admin from outside METRICS_ALLOWED_NETWORKS gets nothing."""
    signed_in = Client()
    signed_in.force_login(admin_member)
    refused = signed_in.get("/metrics", REMOTE_ADDR="198.51.100.20")
    assert refused.status_code == 403
    assert b"portal_" not in refused.content
    scraped = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert scraped.status_code == 200
    body = scraped.content.decode()
    assert "portal_jobs_unfinished" in body
    for secret in (SECRET_NAME, SECRET_TAG, SECRET_GROUP, SECRET_IMSI, SECRET_JOB_REASON):
        assert secret not in body
    for slug in Account.objects.values_list("slug", flat=True):
        assert f'"{slug}"' not in body
