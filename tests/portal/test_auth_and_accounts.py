"""Signing in and out, the login wall in front of every portal page, switching
the current account, and where ``next`` may send a user after login."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.urls import reverse

from api.models import ApiToken
from api.tokens import create_token
from events.models import EventType
from inventory.models import Group, State
from jobs.models import Action, Job
from portal.models import Account, Member, Role
from portal.tenancy import SESSION_KEY as ACCOUNT_SESSION_KEY
from team.models import Invitation
from tests.factories import EndpointFactory, GroupFactory, MemberFactory, UserFactory
from webhooks.models import Webhook

LIST = reverse("inventory:endpoint_list")


#: Every portal screen and method.
ROUTES = [
    ("get", "inventory:dashboard"),
    ("get", "inventory:endpoint_list"),
    ("get", "inventory:endpoint_export"),
    ("post", "inventory:endpoint_bulk_assign"),
    ("post", "inventory:endpoint_bulk_suspend"),
    ("post", "inventory:endpoint_bulk_reset"),
    ("post", "inventory:endpoint_bulk_terminate"),
    ("post", "inventory:endpoint_bulk_set_key_value"),
    ("get", "inventory:endpoint_detail"),
    ("get", "inventory:endpoint_ips"),
    ("get", "inventory:endpoint_history"),
    ("get", "inventory:endpoint_key_values"),
    ("post", "inventory:endpoint_key_values"),
    ("get", "inventory:endpoint_usage"),
    ("get", "inventory:endpoint_edit"),
    ("post", "inventory:endpoint_edit"),
    ("get", "inventory:endpoint_suspend"),
    ("post", "inventory:endpoint_suspend"),
    ("get", "inventory:endpoint_reset"),
    ("post", "inventory:endpoint_reset"),
    ("get", "inventory:endpoint_terminate"),
    ("post", "inventory:endpoint_terminate"),
    ("get", "inventory:activate"),
    ("post", "inventory:activate"),
    ("get", "inventory:group_list"),
    ("get", "inventory:group_create"),
    ("post", "inventory:group_create"),
    ("get", "inventory:group_edit"),
    ("post", "inventory:group_edit"),
    ("get", "inventory:group_delete"),
    ("post", "inventory:group_delete"),
    ("get", "inventory:event_list"),
    ("get", "inventory:activity_list"),
    ("get", "jobs:job_list"),
    ("get", "jobs:job_detail"),
    ("post", "jobs:job_cancel"),
    ("get", "api_tokens:token_list"),
    ("post", "api_tokens:token_list"),
    ("get", "api_tokens:token_revoke"),
    ("post", "api_tokens:token_revoke"),
    ("get", "audit:audit_log"),
    ("get", "audit:audit_export"),
    ("get", "team:member_list"),
    ("post", "team:member_invite"),
    ("post", "team:member_role"),
    ("get", "team:member_remove"),
    ("post", "team:member_remove"),
    ("post", "team:invitation_withdraw"),
    ("get", "password_change"),
    ("get", "security:overview"),
    ("post", "security:enrol"),
    ("post", "security:confirm"),
    ("post", "security:recovery_codes"),
    ("post", "security:disable"),
    ("post", "security:require"),
    ("get", "webhooks:webhook_list"),
    ("get", "webhooks:webhook_create"),
    ("post", "webhooks:webhook_create"),
    ("get", "webhooks:webhook_detail"),
    ("get", "webhooks:webhook_edit"),
    ("post", "webhooks:webhook_edit"),
    ("get", "webhooks:webhook_delete"),
    ("post", "webhooks:webhook_delete"),
    ("post", "webhooks:webhook_rotate"),
    ("post", "webhooks:webhook_test"),
    ("post", "webhooks:webhook_redeliver"),
]
#: A user's own sign-in security: open to every signed-in user, whatever their
#: role, with or without an account.
PERSONAL = {
    "password_change",
    "security:overview",
    "security:enrol",
    "security:confirm",
    "security:recovery_codes",
    "security:disable",
}
_BY_ICCID = {
    "inventory:endpoint_detail",
    "inventory:endpoint_ips",
    "inventory:endpoint_history",
    "inventory:endpoint_key_values",
    "inventory:endpoint_usage",
    "inventory:endpoint_edit",
    "inventory:endpoint_suspend",
    "inventory:endpoint_reset",
    "inventory:endpoint_terminate",
}


_BY_JOB = {"jobs:job_detail", "jobs:job_cancel"}
_BY_MEMBER = {"team:member_role", "team:member_remove"}
_BY_TOKEN = {"api_tokens:token_revoke"}
_BY_GROUP = {"inventory:group_edit", "inventory:group_delete"}


def group_of(account_id: int) -> Group:
    """A group of the account, made when first asked for."""
    group = Group.objects.filter(account_id=account_id).order_by("pk").first()
    return group or GroupFactory(account=Account.objects.get(pk=account_id))


def token_of(account_id: int) -> ApiToken:
    """An API token of the account, made when first asked for."""
    token = ApiToken.objects.filter(account_id=account_id).order_by("pk").first()
    if token is None:
        token, _ = create_token(
            account=Account.objects.get(pk=account_id),
            name="matrix",
            role=Role.VIEWER,
            created_by=None,
            creator_role=None,
        )
    return token


_BY_WEBHOOK = {
    "webhooks:webhook_detail",
    "webhooks:webhook_edit",
    "webhooks:webhook_delete",
    "webhooks:webhook_rotate",
    "webhooks:webhook_test",
    "webhooks:webhook_redeliver",
}


def job_of(account_id: int) -> Job:
    """A job of the account (queued, no targets), made when first asked for."""
    job = Job.objects.filter(account_id=account_id).order_by("pk").first()
    return job or Job.objects.create(account_id=account_id, action=Action.SUSPEND)


def webhook_of(account_id: int) -> Webhook:
    """A webhook of the account, made when first asked for."""
    webhook = Webhook.objects.filter(account_id=account_id).order_by("pk").first()
    return webhook or Webhook.objects.create(
        account_id=account_id,
        url=f"https://hooks.example.com/{account_id}",
        event_types=[EventType.STATE_CHANGED],
        secret="whsec_" + "A" * 32,
    )


def member_of(account_id: int) -> Member:
    """A member of the account (a viewer), made when first asked for."""
    member = Member.objects.filter(account_id=account_id, role=Role.VIEWER).order_by("pk").first()
    return member or MemberFactory(account_id=account_id, role=Role.VIEWER)


def invitation_of(account_id: int) -> Invitation:
    """A pending invitation of the account, made when first asked for."""
    invitation = Invitation.objects.filter(account_id=account_id).order_by("pk").first()
    return invitation or Invitation.objects.create(
        account_id=account_id, email=f"invited-{account_id}@example.com"
    )


def route_url(name: str, endpoint) -> str:
    """The URL of route ``name`` for ``endpoint`` (or a job or webhook of its
    account)."""
    if name in _BY_JOB:
        return reverse(name, args=[job_of(endpoint.account_id).pk])
    if name in _BY_MEMBER:
        return reverse(name, args=[member_of(endpoint.account_id).pk])
    if name == "team:invitation_withdraw":
        return reverse(name, args=[invitation_of(endpoint.account_id).pk])
    if name in _BY_TOKEN:
        return reverse(name, args=[token_of(endpoint.account_id).pk])
    if name in _BY_WEBHOOK:
        return reverse(name, args=[webhook_of(endpoint.account_id).pk])
    if name in _BY_GROUP:
        return reverse(name, args=[group_of(endpoint.account_id).pk])
    return reverse(name, args=[endpoint.iccid]) if name in _BY_ICCID else reverse(name)


def portal_urls(endpoint, *, personal: bool = True) -> list[tuple[str, str]]:
    return [
        (method, route_url(name, endpoint))
        for method, name in ROUTES
        if personal or name not in PERSONAL
    ]


# --- signing in and out ---------------------------------------------------------


@pytest.mark.django_db
def test_login_page_has_labelled_fields(client):
    html = client.get(reverse("login")).content.decode()
    assert '<label class="form-label" for="id_username">Username</label>' in html
    assert '<label class="form-label" for="id_password">Password</label>' in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.django_db
def test_login_with_the_right_password(client, operator):
    response = client.post(reverse("login"), {"username": "op", "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert client.session[USER_SESSION_KEY] == str(operator.pk)
    assert "Vantiq Connect" in client.get(LIST).content.decode()


@pytest.mark.django_db
def test_login_with_a_wrong_password(client, operator):
    response = client.post(reverse("login"), {"username": "op", "password": "nope"})
    assert response.status_code == 200
    assert "Your username and password didn't match." in response.content.decode()
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(client, operator):
    client.force_login(operator)
    assert client.get(reverse("logout")).status_code == 405
    assert USER_SESSION_KEY in client.session

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert USER_SESSION_KEY not in client.session
    assert client.get(LIST)["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_every_page_has_a_sign_out_button(client, operator, account):
    endpoint = EndpointFactory(account=account)
    client.force_login(operator)
    for method, url in portal_urls(endpoint):
        if method != "get" or "export" in url:
            continue
        html = client.get(url).content.decode()
        assert f'action="{reverse("logout")}"' in html, url


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name"), ROUTES)
def test_every_portal_page_requires_login(client, account, method, name):
    endpoint = EndpointFactory(account=account, state=State.PENDING)
    url = route_url(name, endpoint)

    response = getattr(client, method)(url, {"ids": endpoint.iccid} if method == "post" else {})

    assert response.status_code == 302, url
    assert response["Location"].startswith(reverse("login") + "?next=")
    endpoint.refresh_from_db()
    assert endpoint.state == State.PENDING


@pytest.mark.django_db
def test_home_sends_a_signed_in_user_to_the_endpoints(client, operator):
    client.force_login(operator)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert response.status_code == 200


# --- where "next" may go --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "https://evil.example/inventory/endpoints/",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "http://testserver.evil.example/",
        "0",
        "inventory/groups/",
    ],
)
def test_next_never_leaves_our_host(client, operator, target):
    response = client.post(reverse("login"), {"username": "op", "password": "pw", "next": target})
    assert response.status_code == 302
    assert response["Location"] == LIST


@pytest.mark.django_db
def test_next_on_our_host_is_followed(client, operator):
    target = reverse("inventory:group_list") + "?x=1"
    response = client.post(reverse("login"), {"username": "op", "password": "pw", "next": target})
    assert response["Location"] == target


@pytest.mark.django_db
def test_login_form_carries_next_from_the_wall(client, account):
    endpoint = EndpointFactory(account=account)
    detail = reverse("inventory:endpoint_detail", args=[endpoint.iccid])
    login_page = client.get(detail, follow=True).content.decode()
    assert f'name="next" value="{detail}"' in login_page


# --- users without an account -------------------------------------------------------


@pytest.mark.django_db
def test_user_without_membership_sees_a_clear_page(client, account):
    endpoint = EndpointFactory(account=account, name="not-for-you")
    client.force_login(UserFactory(username="nobody"))
    for method, url in portal_urls(endpoint, personal=False):
        if method != "get":
            continue
        response = client.get(url)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert "You are not a member of any account yet" in html, url
        assert "not-for-you" not in html
        assert "Request id" not in html  # a page meant for them, not an error
    # Their own sign-in they may protect all the same.
    assert client.get(reverse("security:overview")).status_code == 200


# --- switching accounts -------------------------------------------------------


@pytest.fixture
def two_account_user(account, other_account):
    user = MemberFactory(account=account, role=Role.OPERATOR, user__username="multi").user
    MemberFactory(account=other_account, role=Role.VIEWER, user=user)
    return user


@pytest.mark.django_db
def test_header_lists_the_users_accounts(client, two_account_user, account, other_account):
    third = MemberFactory(user__username="stranger").account
    client.force_login(two_account_user)
    html = client.get(reverse("inventory:group_list")).content.decode()
    switcher = html.split('id="account-switch"')[1].split("</select>")[0]
    assert f'<option value="{account.pk}"' in switcher
    assert f'<option value="{other_account.pk}"' in switcher
    assert f'value="{third.pk}"' not in switcher
    assert '<label for="account-switch"' in html


@pytest.mark.django_db
def test_switching_account_changes_what_is_listed(client, two_account_user, account, other_account):
    ours = EndpointFactory(account=account, name="vantiq-car")
    theirs = EndpointFactory(account=other_account, name="northwind-truck")
    client.force_login(two_account_user)
    client.post(reverse("switch_account"), {"account": account.pk, "next": LIST})
    listed = client.get(LIST).content.decode()
    assert ours.iccid in listed and theirs.iccid not in listed

    response = client.post(reverse("switch_account"), {"account": other_account.pk, "next": LIST})

    assert response.status_code == 302 and response["Location"] == LIST
    assert client.session[ACCOUNT_SESSION_KEY] == other_account.pk
    listed = client.get(LIST).content.decode()
    assert theirs.iccid in listed and ours.iccid not in listed
    # The choice persists, and decides what an ICCID in a URL finds.
    detail = reverse("inventory:endpoint_detail", args=[ours.iccid])
    assert client.get(detail).status_code == 404
    assert client.get(reverse("inventory:endpoint_detail", args=[theirs.iccid])).status_code == 200


@pytest.mark.django_db
def test_role_follows_the_current_account(client, two_account_user, account, other_account):
    group = GroupFactory(account=other_account)
    theirs = EndpointFactory(account=other_account, state=State.ACTIVE, primary_group=group)
    client.force_login(two_account_user)
    client.post(reverse("switch_account"), {"account": other_account.pk})

    edit = reverse("inventory:endpoint_edit", args=[theirs.iccid])
    refused = client.get(edit)
    assert refused.status_code == 403  # a viewer there
    assert 'name="name"' not in refused.content.decode()

    client.post(reverse("switch_account"), {"account": account.pk})
    ours = EndpointFactory(account=account)
    allowed = client.get(reverse("inventory:endpoint_edit", args=[ours.iccid]))
    assert allowed.status_code == 200
    assert 'name="name"' in allowed.content.decode()


@pytest.mark.django_db
def test_cannot_switch_to_an_account_one_is_not_member_of(client, two_account_user, account):
    stranger = MemberFactory(user__username="stranger").account
    client.force_login(two_account_user)
    client.post(reverse("switch_account"), {"account": account.pk})

    response = client.post(reverse("switch_account"), {"account": stranger.pk})

    assert response.status_code == 404
    assert client.session[ACCOUNT_SESSION_KEY] == account.pk


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "abc", "1e3"])
def test_switch_with_a_bad_account_value(client, two_account_user, account, value):
    client.force_login(two_account_user)
    client.post(reverse("switch_account"), {"account": account.pk})
    response = client.post(reverse("switch_account"), {"account": value})
    assert response.status_code == 400
    assert client.session[ACCOUNT_SESSION_KEY] == account.pk


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "javascript:x"])
def test_switch_never_redirects_off_site(client, two_account_user, other_account, target):
    client.force_login(two_account_user)
    response = client.post(reverse("switch_account"), {"account": other_account.pk, "next": target})
    assert response.status_code == 302
    assert response["Location"] == LIST


@pytest.mark.django_db
def test_switch_needs_login_and_post(client, two_account_user, other_account):
    response = client.post(reverse("switch_account"), {"account": other_account.pk})
    assert response["Location"].startswith(reverse("login"))
    client.force_login(two_account_user)
    assert client.get(reverse("switch_account")).status_code == 405
    assert ACCOUNT_SESSION_KEY not in client.session
