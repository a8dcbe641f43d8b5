"""API tokens: hashed at rest, role never above the creator's, expiry and
revocation effective on the next request, last use recorded, never
interchangeable with network tokens; the command, the page and the admin."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from api.tokens import TokenRefused, create_token, revoke_token
from network.tokens import create_token as create_network_token
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.factories import EndpointFactory, MemberFactory

LIST = "/api/v1/endpoints"
NETWORK = reverse("api:network_events")
PAGE = reverse("api_tokens:token_list")


def test_only_the_hash_is_stored(account):
    token, plain = make_token(account, Role.VIEWER)
    stored = ApiToken.objects.get(pk=token.pk)
    assert plain.startswith("epk_") and len(plain) == 47
    assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert stored.prefix == plain[:10]


def test_a_token_never_has_more_than_its_creator(account, operator):
    with pytest.raises(TokenRefused, match="more rights than you"):
        create_token(
            account=account,
            name="x",
            role=Role.ADMIN,
            created_by=operator,
            creator_role=Role.OPERATOR,
        )
    assert not ApiToken.objects.exists()


def test_live_names_are_unique_per_account(account, other_account):
    make_token(account, Role.VIEWER, name="sync")
    make_token(other_account, Role.VIEWER, name="sync")
    with pytest.raises(TokenRefused, match="already has a token named"):
        make_token(account, Role.ADMIN, name="sync")
    revoke_token(token=ApiToken.objects.get(account=account, name="sync"))
    make_token(account, Role.ADMIN, name="sync")  # a revoked one frees its name


def test_revocation_and_expiry_take_effect_on_the_next_request(account):
    token, plain = make_token(account, Role.VIEWER)
    client = ApiClient(plain)
    assert client.get(LIST).status_code == 200
    revoke_token(token=token)
    refused = client.get(LIST)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert refused["Content-Type"] == "application/problem+json"

    token, plain = make_token(account, Role.VIEWER, name="short-lived")
    client = ApiClient(plain)
    assert client.get(LIST).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(LIST).status_code == 401


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic abc", "Bearer epk_" + "x" * 43, "Bearer " + "epk_" * 100],
)
def test_missing_or_wrong_tokens_are_401(db, header):
    client = ApiClient(None)
    response = client.get(LIST, **({"Authorization": header} if header else {}))
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_network_and_api_tokens_are_not_interchangeable(account):
    _, network_plain = create_network_token("core-1")
    assert ApiClient(network_plain).get(LIST).status_code == 401
    _, api_plain = make_token(account, Role.ADMIN)
    response = ApiClient(api_plain).post(NETWORK, {"events": []})
    assert response.status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(account, django_assert_num_queries):
    token, plain = make_token(account, Role.VIEWER)
    client = ApiClient(plain)
    client.get("/api/v1/groups")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get("/api/v1/groups")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first


def test_command_prints_the_token_on_its_last_line(account):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_token", "fleet-sync", account="vantiq", role="operator", stdout=out, stderr=err
    )
    plain = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(name="fleet-sync")
    assert token.role == Role.OPERATOR and token.account == account
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert ApiClient(plain).get(LIST).status_code == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["x", "--account", "nope", "--role", "viewer"], "No account"),
        (["x", "--account", "vantiq", "--role", "viewer", "--expires-in-days", "0"], "1 or more"),
        (["", "--account", "vantiq", "--role", "viewer"], "Give the token a name"),
    ],
)
def test_command_refuses_bad_input(account, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args, stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()


# -- the page -------------------------------------------------------------------------


def test_the_page_is_for_admins(client, account, operator, viewer):
    for user in (operator, viewer):
        client.force_login(user)
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE, {"name": "x", "role": "viewer"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_create_shows_the_token_once(client, account, admin_member):
    client.force_login(admin_member)
    response = client.post(PAGE, {"name": "fleet-sync", "role": "operator"})
    assert response.status_code == 200  # shown in the POST's own answer, kept nowhere
    page = response.content.decode()
    token = ApiToken.objects.get(name="fleet-sync")
    shown = page.split('id="new-token-value" class="form-control font-monospace" readonly value="')[
        1
    ]
    plain = shown.split('"')[0]
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert token.created_by == admin_member and token.role == Role.OPERATOR
    again = client.get(PAGE).content.decode()
    assert plain not in again and token.prefix in again
    EndpointFactory(account=account)
    assert ApiClient(plain).get(LIST).json()["results"]


def test_a_token_belongs_to_the_current_account_and_role_there(
    client, account, other_account, operator
):
    """Admin in the other account, operator in ours: a token made while the other
    account is current is the other account's; with ours current, the page is 403."""
    MemberFactory(account=other_account, user=operator, role=Role.ADMIN)
    client.force_login(operator)
    client.post(reverse("switch_account"), {"account": other_account.pk})
    assert client.post(PAGE, {"name": "x", "role": "admin"}).status_code == 200
    assert ApiToken.objects.get().account == other_account
    client.post(reverse("switch_account"), {"account": account.pk})
    assert client.post(PAGE, {"name": "y", "role": "admin"}).status_code == 403
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": "", "role": "viewer"}, "name"),
        ({"name": "x", "role": "root"}, "role"),
        ({"name": "x", "role": "viewer", "expires_on": "2001-01-01"}, "expires_on"),
        ({"name": "x", "role": "viewer", "expires_on": "not a day"}, "expires_on"),
    ],
)
def test_bad_input_is_a_form_error(client, admin_member, data, field):
    client.force_login(admin_member)
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_a_duplicate_name_is_a_form_error(client, account, admin_member):
    make_token(account, Role.VIEWER, name="sync")
    client.force_login(admin_member)
    response = client.post(PAGE, {"name": "sync", "role": "viewer"})
    assert response.status_code == 400
    assert "already has a token named" in response.content.decode()
    assert ApiToken.objects.count() == 1


def test_revoke_asks_then_revokes(client, account, admin_member):
    token, plain = make_token(account, Role.VIEWER)
    client.force_login(admin_member)
    url = reverse("api_tokens:token_revoke", args=[token.pk])
    assert "Revoke API token" in client.get(url).content.decode()
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert client.post(url).status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert ApiClient(plain).get(LIST).status_code == 401


def test_another_accounts_token_is_a_404(client, other_account, admin_member):
    token, plain = make_token(other_account, Role.ADMIN)
    client.force_login(admin_member)
    url = reverse("api_tokens:token_revoke", args=[token.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert token.name not in client.get(PAGE).content.decode()


def test_staff_revoke_in_admin(client, account, django_user_model):
    token, plain = make_token(account, Role.ADMIN)
    staff = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(staff)
    changelist = reverse("admin:api_apitoken_changelist")
    assert token.prefix in client.get(changelist).content.decode()
    client.post(changelist, {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.get(reverse("admin:api_apitoken_add")).status_code == 403


@pytest.mark.parametrize(
    "change, field",
    [
        ({"name": "  "}, "name"),
        ({"name": "sync"}, "name"),  # taken
        ({"role": Role.ADMIN, "creator_role": Role.OPERATOR}, "role"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expires_on"),
    ],
)
def test_a_refusal_names_its_form_field_itself(account, change, field):
    """The page puts the message on ``field`` (not by reading the message)."""
    make_token(account, Role.VIEWER, name="sync")
    arguments = {
        "account": account,
        "name": "new",
        "role": Role.VIEWER,
        "created_by": None,
        "creator_role": None,
        **change,
    }
    with pytest.raises(TokenRefused) as refused:
        create_token(**arguments)
    assert refused.value.field == field


def test_the_page_shows_a_taken_name_on_the_name_field(client, account, admin_member):
    make_token(account, Role.VIEWER, name="sync")
    client.force_login(admin_member)

    response = client.post(PAGE, {"name": "sync", "role": "viewer"})

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [
        "This account already has a token named “sync”."
    ]
