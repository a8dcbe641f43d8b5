"""Django admin and the second factor: with ADMIN_REQUIRE_MFA on, staff reach
admin only in a session verified by a code (staff without two-factor are sent
to set it up); off, the password is enough. Either way admin's own sign-in
asks users with two-factor on for the code."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.urls import reverse

from tests.factories import UserFactory
from tests.two_factor import code_at, code_step, turn_on

ADMIN = reverse("admin:index")
CHANGELIST = reverse("admin:portal_account_changelist")


@pytest.fixture
def staff(db):
    return UserFactory(username="support", is_staff=True, is_superuser=True)


def _admin_password_step(client, username="support"):
    return client.post(
        reverse("admin:login"), {"username": username, "password": "pw", "next": ADMIN}
    )


@pytest.mark.django_db
def test_required_staff_without_two_factor_are_sent_to_set_it_up(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = True
    assert _admin_password_step(client)["Location"] == ADMIN
    assert client.session[USER_SESSION_KEY] == str(staff.pk)

    response = client.get(CHANGELIST, follow=True)

    assert response.redirect_chain[-1][0] == reverse("security:overview")
    assert "Django admin needs two-factor sign-in" in response.content.decode()


@pytest.mark.django_db
def test_required_staff_with_two_factor_reach_admin_after_the_code(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = True
    device, _ = turn_on(staff)

    assert _admin_password_step(client)["Location"] == reverse("login_code")
    assert USER_SESSION_KEY not in client.session
    assert client.get(CHANGELIST).status_code == 302

    assert code_step(client, code_at(device))["Location"] == ADMIN
    assert client.get(CHANGELIST).status_code == 200


@pytest.mark.django_db
def test_required_a_session_without_the_code_is_refused(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = True
    client.force_login(staff)  # authenticated, never verified
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == reverse("security:overview")


@pytest.mark.django_db
def test_not_required_the_password_is_enough(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = False
    _admin_password_step(client)
    assert client.get(CHANGELIST).status_code == 200


@pytest.mark.django_db
def test_not_required_staff_with_two_factor_still_give_the_code(client, staff, settings):
    settings.ADMIN_REQUIRE_MFA = False
    device, _ = turn_on(staff)
    assert _admin_password_step(client)["Location"] == reverse("login_code")
    assert client.get(CHANGELIST).status_code == 302
    code_step(client, code_at(device))
    assert client.get(CHANGELIST).status_code == 200


@pytest.mark.django_db
def test_non_staff_never_reach_admin(client, operator, settings):
    settings.ADMIN_REQUIRE_MFA = True
    device, _ = turn_on(operator)
    client.post(reverse("login"), {"username": "op", "password": "pw"})
    code_step(client, code_at(device))
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    ("environment", "required"),
    [
        ({}, True),
        ({"DEBUG": "1"}, False),
        ({"DEBUG": "1", "ADMIN_REQUIRE_MFA": "1"}, True),
        ({"ADMIN_REQUIRE_MFA": "0"}, False),
    ],
)
def test_the_setting_defaults_to_on_outside_debug(monkeypatch, environment, required):
    import config.settings

    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.delenv("ADMIN_REQUIRE_MFA", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    try:
        assert importlib.reload(config.settings).ADMIN_REQUIRE_MFA is required
    finally:
        monkeypatch.undo()
        importlib.reload(config.settings)
