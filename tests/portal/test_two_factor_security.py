"""The Security page (/account/security/): enrol an authenticator with a first
code, recovery codes shown once, new codes, turning two-factor off with a fresh
code; an account admin requiring two-factor of every member, and the members
without it sent to enrolment until they have it."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import Account, Role
from portal.two_factor import devices
from tests.factories import MemberFactory, UserFactory
from tests.two_factor import code_at, code_from_secret, code_step, password_step, turn_on

SECURITY = reverse("security:overview")
LIST = reverse("inventory:endpoint_list")


def _secret(html: str) -> str:
    return re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1)


def _codes(html: str) -> list[str]:
    block = html.split('data-testid="recovery-codes"')[1].split("</ol>")[0]
    return re.findall(r"<li>([a-z2-7-]+)</li>", block)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


# --- who may open it ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "security:overview"),
        ("post", "security:enrol"),
        ("post", "security:confirm"),
        ("post", "security:recovery_codes"),
        ("post", "security:disable"),
        ("post", "security:require"),
    ],
)
def test_anonymous_is_sent_to_sign_in(client, method, name):
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


@pytest.mark.django_db
def test_a_user_without_an_account_can_still_protect_their_sign_in(client):
    client.force_login(UserFactory(username="staffer", is_staff=True))
    html = client.get(SECURITY).content.decode()
    assert "Set up two-factor sign-in" in html
    assert "Account policy" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_actions_are_posts(signed_in, method):
    for name in ["security:enrol", "security:confirm", "security:disable"]:
        assert getattr(signed_in, method)(reverse(name)).status_code == 405


@pytest.mark.django_db
def test_the_account_menu_links_the_security_page(signed_in):
    html = signed_in.get(LIST).content.decode()
    assert f'href="{SECURITY}">Security</a></li>' in html


# --- enrolment --------------------------------------------------------------------------


@pytest.mark.django_db
def test_enrolment_shows_a_qr_code_and_the_secret(signed_in, operator):
    assert signed_in.post(reverse("security:enrol"))["Location"] == SECURITY

    html = signed_in.get(SECURITY).content.decode()

    device = TOTPDevice.objects.get(user=operator)
    assert not device.confirmed
    assert '<svg role="img" aria-label="QR code' in html
    assert "style=" not in html.split("<svg")[1].split("</svg>")[0]
    assert _secret(html).replace(" ", "") == devices.secret_text(device).replace(" ", "")
    assert "otpauth://" not in html  # the URI is in the picture only
    assert not devices.has_two_factor(operator)


@pytest.mark.django_db
def test_the_qr_code_carries_the_secret_issuer_and_username(operator):
    device = devices.start_enrolment(user=operator)
    url = device.config_url
    assert url.startswith("otpauth://totp/Endpoint%20Portal%3Aop?")
    assert f"secret={devices.secret_text(device).replace(' ', '')}" in url
    assert "issuer=Endpoint%20Portal" in url


@pytest.mark.django_db
def test_a_wrong_first_code_turns_nothing_on(signed_in, operator):
    signed_in.post(reverse("security:enrol"))
    secret = _secret(signed_in.get(SECURITY).content.decode())

    response = signed_in.post(
        reverse("security:confirm"), {"code": _wrong(code_from_secret(secret))}, follow=True
    )

    assert "That code is not valid" in response.content.decode()
    assert not devices.has_two_factor(operator)
    assert not StaticToken.objects.exists()


@pytest.mark.django_db
def test_the_first_code_turns_it_on_and_shows_ten_codes_once(signed_in, operator):
    signed_in.post(reverse("security:enrol"))
    secret = _secret(signed_in.get(SECURITY).content.decode())

    response = signed_in.post(reverse("security:confirm"), {"code": code_from_secret(secret)})

    assert response.status_code == 200
    codes = _codes(response.content.decode())
    assert len(codes) == len(set(codes)) == 10
    assert devices.has_two_factor(operator)
    # This session passed the code: it stays signed in, verified.
    device = TOTPDevice.objects.get(user=operator)
    assert signed_in.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    page = signed_in.get(SECURITY).content.decode()
    assert 'data-testid="codes-left">10<' in page
    for code in codes:
        assert code not in page
    assert signed_in.get(LIST).status_code == 200


@pytest.mark.django_db
def test_enrolling_again_replaces_the_unconfirmed_secret(signed_in, operator):
    signed_in.post(reverse("security:enrol"))
    first = TOTPDevice.objects.get(user=operator).key
    signed_in.post(reverse("security:enrol"))
    assert list(TOTPDevice.objects.filter(user=operator).values_list("key", flat=True)) != [first]
    assert TOTPDevice.objects.filter(user=operator).count() == 1


@pytest.mark.django_db
def test_enrolling_while_on_changes_nothing(client, operator):
    device, _ = turn_on(operator)
    _verified(client, device)
    client.post(reverse("security:enrol"))
    assert list(TOTPDevice.objects.filter(user=operator)) == [device]


def _verified(client, device):
    """Sign ``device``'s user in through both steps."""
    password_step(client, device.user.username)
    assert code_step(client, code_at(device))["Location"] == LIST


# --- recovery codes and turning off -----------------------------------------------------


@pytest.mark.django_db
def test_new_recovery_codes_need_a_fresh_code_and_replace_the_old(client, operator, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = settings.OTP_STATIC_THROTTLE_FACTOR = 0
    device, old = turn_on(operator)
    password_step(client, "op")
    code_step(client, code_at(device, time.time() - 30))

    refused = client.post(reverse("security:recovery_codes"), {"code": old[0]}, follow=True)
    assert "That code is not valid" in refused.content.decode()  # a recovery code is not enough
    assert StaticToken.objects.count() == 10

    response = client.post(reverse("security:recovery_codes"), {"code": code_at(device)})

    new = _codes(response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert StaticToken.objects.count() == 10
    other = type(client)()
    password_step(other, "op")
    assert code_step(other, old[1]).status_code == 200
    assert code_step(other, new[1]).status_code == 302


@pytest.mark.django_db
def test_turning_off_needs_a_fresh_code(client, operator, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device, codes = turn_on(operator)
    password_step(client, "op")
    code_step(client, code_at(device, time.time() - 30))

    for wrong in [_wrong(code_at(device)), codes[0], code_at(device, time.time() - 30), ""]:
        client.post(reverse("security:disable"), {"code": wrong})
        assert devices.has_two_factor(operator), wrong

    response = client.post(reverse("security:disable"), {"code": code_at(device)}, follow=True)

    assert "Two-factor sign-in is off." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=operator).exists()
    assert not StaticDevice.objects.filter(user=operator).exists()
    assert response.status_code == 200  # still signed in
    assert password_step(type(client)(), "op")["Location"] == LIST  # password alone again


# --- an account requires two-factor -------------------------------------------------------


@pytest.mark.django_db
def test_a_viewer_or_operator_cannot_change_the_requirement(client, account, viewer, operator):
    for user in [viewer, operator]:
        client.force_login(user)
        assert client.post(reverse("security:require"), {"require_mfa": "on"}).status_code == 403
        assert "Account policy" not in client.get(SECURITY).content.decode()
    account.refresh_from_db()
    assert not account.require_mfa


@pytest.mark.django_db
def test_an_admin_needs_two_factor_before_requiring_it(client, account, admin_member):
    client.force_login(admin_member)
    response = client.post(reverse("security:require"), {"require_mfa": "on"}, follow=True)
    assert "Turn two-factor sign-in on for yourself first." in response.content.decode()
    account.refresh_from_db()
    assert not account.require_mfa


@pytest.mark.django_db
def test_an_admin_requires_it_of_the_current_account_only(
    client, account, other_account, admin_member
):
    MemberFactory(account=other_account, user=admin_member, role=Role.ADMIN)
    device, _ = turn_on(admin_member)
    _verified(client, device)
    client.post(reverse("switch_account"), {"account": account.pk})

    response = client.post(
        reverse("security:require"), {"require_mfa": "on", "account": other_account.pk}
    )

    assert response["Location"] == SECURITY
    assert list(Account.objects.filter(require_mfa=True)) == [account]
    client.post(reverse("security:require"), {})
    assert not Account.objects.filter(require_mfa=True).exists()


@pytest.mark.django_db
def test_members_without_two_factor_are_sent_to_enrolment_and_nowhere_else(
    client, account, operator
):
    Account.objects.filter(pk=account.pk).update(require_mfa=True)
    password_step(client, "op")
    assert client.session[USER_SESSION_KEY] == str(operator.pk)

    for url in [LIST, reverse("jobs:job_list"), reverse("inventory:group_list"), "/admin/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == SECURITY, url
    assert (
        client.post(reverse("inventory:endpoint_bulk_suspend"), {"ids": "x"})["Location"]
        == SECURITY
    )
    page = client.get(SECURITY).content.decode()
    assert "Vantiq Connect requires two-factor sign-in" in page

    client.post(reverse("security:enrol"))
    secret = _secret(client.get(SECURITY).content.decode())
    client.post(reverse("security:confirm"), {"code": code_from_secret(secret)})

    assert client.get(LIST).status_code == 200


@pytest.mark.django_db
def test_an_htmx_request_is_sent_to_enrolment_as_a_whole_page(client, account, operator):
    Account.objects.filter(pk=account.pk).update(require_mfa=True)
    client.force_login(operator)
    response = client.get(LIST, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == SECURITY


@pytest.mark.django_db
def test_a_requirement_of_another_account_of_the_user_applies(
    client, account, other_account, operator
):
    MemberFactory(account=other_account, user=operator, role=Role.VIEWER)
    Account.objects.filter(pk=other_account.pk).update(require_mfa=True)
    client.force_login(operator)
    assert client.get(LIST)["Location"] == SECURITY


@pytest.mark.django_db
def test_members_of_other_accounts_are_not_concerned(client, account, other_account):
    Account.objects.filter(pk=account.pk).update(require_mfa=True)
    outsider = MemberFactory(account=other_account, role=Role.OPERATOR).user
    client.force_login(outsider)
    assert client.get(LIST).status_code == 200


@pytest.mark.django_db
def test_two_factor_cannot_be_turned_off_while_required(client, account, operator):
    device, _ = turn_on(operator)
    _verified(client, device)
    Account.objects.filter(pk=account.pk).update(require_mfa=True)

    response = client.post(
        reverse("security:disable"), {"code": code_at(device, time.time() + 30)}, follow=True
    )

    assert "requires two-factor sign-in of its members" in response.content.decode()
    assert devices.has_two_factor(operator)
