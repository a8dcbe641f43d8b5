"""Signing in with two-factor on: the password, then a code. Between the steps
the session is anonymous; wrong, replayed and expired codes are refused;
recovery codes work once; django-axes locks out guessing at the code step."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp import models as totp_models

from portal.models import Role
from portal.two_factor import signin
from tests.factories import MemberFactory, UserFactory
from tests.two_factor import code_at, code_step, password_step, turn_on

LIST = reverse("inventory:endpoint_list")
CODE_STEP = reverse("login_code")


@pytest.fixture
def secured(operator):
    """The operator ("op", password "pw") with two-factor on."""
    device, codes = turn_on(operator)
    return operator, device, codes


@pytest.fixture
def clock(monkeypatch) -> float:
    """The time django-otp checks codes at, held in the middle of the current
    30-second step: a code a step away stays exactly one step away."""
    held = (int(time.time()) // 30) * 30 + 15.0
    monkeypatch.setattr(totp_models, "time", SimpleNamespace(time=lambda: held))
    return held


def _signed_in(client, user) -> bool:
    return client.session.get(USER_SESSION_KEY) == str(user.pk)


# --- the two steps ------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_without_two_factor_signs_in_with_the_password_alone(client, operator):
    response = password_step(client, "op")
    assert response["Location"] == LIST
    assert _signed_in(client, operator)


@pytest.mark.django_db
def test_the_right_password_leads_to_the_code_step_not_into_the_portal(client, secured):
    user, device, _ = secured

    response = password_step(client, "op")

    assert response.status_code == 302
    assert response["Location"] == CODE_STEP
    assert USER_SESSION_KEY not in client.session
    page = client.get(CODE_STEP).content.decode()
    assert '<label class="form-label" for="id_code">Authentication code</label>' in page


@pytest.mark.django_db
def test_between_the_steps_the_session_reaches_nothing(client, secured, account):
    password_step(client, "op")
    for url in [LIST, reverse("jobs:job_list"), reverse("security:overview"), "/admin/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "login" in response["Location"], url
    assert client.post(reverse("switch_account"), {"account": account.pk}).status_code == 302
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_the_right_code_signs_in_verified_and_follows_next(client, secured):
    user, device, _ = secured
    target = reverse("inventory:group_list")
    client.post(reverse("login"), {"username": "op", "password": "pw", "next": target})

    response = code_step(client, code_at(device))

    assert response.status_code == 302
    assert response["Location"] == target
    assert _signed_in(client, user)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert signin.PENDING_KEY not in client.session
    assert client.get(LIST).status_code == 200


@pytest.mark.django_db
def test_next_off_site_is_dropped_at_the_code_step_too(client, secured):
    _, device, _ = secured
    client.post(reverse("login"), {"username": "op", "password": "pw", "next": "//evil.example"})
    assert code_step(client, code_at(device))["Location"] == LIST


@pytest.mark.django_db
def test_the_code_step_without_the_password_step_goes_back_to_sign_in(client, secured):
    _, device, _ = secured
    response = code_step(client, code_at(device))
    assert response["Location"] == reverse("login")
    assert USER_SESSION_KEY not in client.session
    assert client.get(CODE_STEP)["Location"] == reverse("login")


@pytest.mark.django_db
def test_a_wrong_password_never_reaches_the_code_step(client, secured):
    response = password_step(client, "op", "nope")
    assert response.status_code == 200
    assert signin.PENDING_KEY not in client.session
    assert client.get(CODE_STEP)["Location"] == reverse("login")


@pytest.mark.django_db
def test_the_code_step_expires(client, secured, settings, monkeypatch):
    _, device, _ = secured
    password_step(client, "op")
    later = time.time() + settings.TWO_FACTOR_PENDING_SECONDS + 1
    monkeypatch.setattr(signin.time, "time", lambda: later)

    response = code_step(client, code_at(device))

    assert response["Location"] == reverse("login")
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_a_password_change_between_the_steps_ends_the_code_step(client, secured):
    user, device, _ = secured
    password_step(client, "op")
    user.set_password("new-password")
    user.save()

    assert code_step(client, code_at(device))["Location"] == reverse("login")
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_the_session_key_changes_at_each_step(client, secured):
    _, device, _ = secured
    client.get(reverse("login"))
    first = client.session.session_key
    password_step(client, "op")
    second = client.session.session_key
    code_step(client, code_at(device))
    assert len({first, second, client.session.session_key}) == 3


# --- wrong, replayed, expired codes ---------------------------------------------------


@pytest.mark.django_db
def test_a_wrong_code_is_refused(client, secured):
    _, device, _ = secured
    password_step(client, "op")
    wrong = f"{(int(code_at(device)) + 1) % 1_000_000:06d}"

    response = code_step(client, wrong)

    assert response.status_code == 200
    assert "That code is not valid" in response.content.decode()
    assert USER_SESSION_KEY not in client.session
    assert AccessAttempt.objects.get(username="op").failures_since_start == 1


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["", "abc", "12345678901234567890123456789012x", "😀" * 6, "\x00"])
def test_nonsense_at_the_code_step_is_answered(client, secured, code):
    password_step(client, "op")
    response = code_step(client, code)
    assert response.status_code == 200
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_a_code_works_once(client, secured, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the refusal is the replay guard's, not the throttle's
    user, device, _ = secured
    code = code_at(device)
    password_step(client, "op")
    assert code_step(client, code).status_code == 302

    other = Client()
    password_step(other, "op")
    response = code_step(other, code)

    assert response.status_code == 200
    assert "That code is not valid" in response.content.decode()
    assert USER_SESSION_KEY not in other.session


@pytest.mark.django_db
def test_a_code_older_than_the_last_one_used_is_refused(client, secured, settings, clock):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    _, device, _ = secured
    now = clock
    password_step(client, "op")
    assert code_step(client, code_at(device, now)).status_code == 302

    other = Client()
    password_step(other, "op")
    assert code_step(other, code_at(device, now - 30)).status_code == 200
    assert USER_SESSION_KEY not in other.session


@pytest.mark.django_db
@pytest.mark.parametrize("skew", [-30, 30])
def test_the_previous_and_next_codes_still_work_for_clock_skew(client, secured, clock, skew):
    user, device, _ = secured
    password_step(client, "op")
    assert code_step(client, code_at(device, clock + skew)).status_code == 302
    assert _signed_in(client, user)
    assert _signed_in(client, user)


@pytest.mark.django_db
@pytest.mark.parametrize("age", [60, 90, 300, 3600])
def test_an_expired_code_is_refused(client, secured, clock, age):
    _, device, _ = secured
    password_step(client, "op")
    response = code_step(client, code_at(device, clock - age))
    assert response.status_code == 200
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("ahead", [60, 120])
def test_a_code_of_the_future_is_refused(client, secured, clock, ahead):
    _, device, _ = secured
    password_step(client, "op")
    assert code_step(client, code_at(device, clock + ahead)).status_code == 200
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_another_users_code_is_refused(client, secured, viewer):
    other_device, _ = turn_on(viewer)
    password_step(client, "op")
    response = code_step(client, code_at(other_device))
    assert response.status_code == 200
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_quick_retries_are_throttled(client, secured):
    """django-otp's throttle: right after a wrong code, even the right one waits."""
    user, device, _ = secured
    password_step(client, "op")
    code_step(client, "000000" if code_at(device) != "000000" else "111111")
    assert code_step(client, code_at(device)).status_code == 200
    assert USER_SESSION_KEY not in client.session
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


# --- recovery codes ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_recovery_code_signs_in_once(client, secured):
    user, _, codes = secured
    password_step(client, "op")

    response = code_step(client, codes[3].upper().replace("-", " "))  # as typed from paper

    assert response.status_code == 302
    assert _signed_in(client, user)
    assert "recovery code; 9 left" in client.get(LIST).content.decode()

    again = Client()
    password_step(again, "op")
    assert code_step(again, codes[3]).status_code == 200
    assert USER_SESSION_KEY not in again.session
    assert StaticToken.objects.filter(device__user=user).count() == 9


@pytest.mark.django_db
def test_recovery_codes_are_stored_hashed(secured):
    user, _, codes = secured
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


@pytest.mark.django_db(transaction=True)
def test_one_recovery_code_used_twice_at_once_signs_in_once(operator):
    _, codes = turn_on(operator)
    outcomes = []
    clients = [Client(), Client()]
    for c in clients:
        password_step(c, "op")
    barrier = threading.Barrier(2)

    def use(c):
        barrier.wait()
        try:
            outcomes.append(code_step(c, codes[0]).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=use, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == [200, 302]
    assert StaticToken.objects.filter(device__user=operator).count() == 9


# --- django-axes covers the code step ----------------------------------------------


@pytest.mark.django_db
def test_guessing_codes_is_locked_out_like_guessing_passwords(client, secured, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # axes alone
    user, device, _ = secured
    password_step(client, "op")
    right = code_at(device)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert code_step(client, wrong).status_code == 200

    locked = code_step(client, wrong)

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    # Locked: the right code, and the right password, are refused now.
    assert code_step(client, right).status_code == 429
    assert USER_SESSION_KEY not in client.session
    assert password_step(Client(), "op").status_code == 429


@pytest.mark.django_db
def test_password_and_code_failures_add_up(client, secured, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    _, device, _ = secured
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        password_step(client, "op", f"wrong{attempt}")
    password_step(client, "op")  # the right password does not reset the count
    assert code_step(client, "abc").status_code == 429
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_a_successful_code_step_resets_the_failures(client, secured, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    _, device, _ = secured
    password_step(client, "op")
    code_step(client, "000000" if code_at(device) != "000000" else "111111")
    assert code_step(client, code_at(device)).status_code == 302
    assert not AccessAttempt.objects.filter(username="op").exists()


# --- sessions that skipped the code step ----------------------------------------------


@pytest.mark.django_db
def test_a_session_from_before_enrolment_is_signed_out(client, operator):
    client.force_login(operator)  # signed in elsewhere, then two-factor was turned on
    assert client.get(LIST).status_code == 200
    turn_on(operator)

    response = client.get(LIST)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={LIST}"
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_an_htmx_request_of_such_a_session_redirects_the_whole_page(client, operator):
    client.force_login(operator)
    turn_on(operator)
    response = client.get(LIST, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("login"))


@pytest.mark.django_db
def test_such_a_session_of_a_user_without_an_account_is_signed_out_too(client):
    staff = UserFactory(username="support", is_staff=True)
    client.force_login(staff)
    turn_on(staff)
    response = client.get(reverse("security:overview"))
    assert response["Location"].startswith(reverse("login"))
    assert USER_SESSION_KEY not in client.session
    client.force_login(staff)
    response = client.get(LIST)
    assert response["Location"].startswith(reverse("login"))
    assert USER_SESSION_KEY not in client.session


@pytest.mark.django_db
def test_two_factor_costs_a_page_no_query_of_its_own(client, secured, account):
    """Whether the user has two-factor rides on the memberships query; a verified
    session loads its device instead (django-otp), in place of nothing else."""
    _, device, _ = secured
    password_step(client, "op")
    code_step(client, code_at(device))
    plain = Client()
    plain.force_login(MemberFactory(account=account, role=Role.OPERATOR).user)
    counts = []
    for c in [plain, client]:
        c.get(LIST)
        with CaptureQueriesContext(connection) as queries:
            assert c.get(LIST).status_code == 200
        counts.append(len(queries))
    plain_count, verified_count = counts
    assert verified_count == plain_count + 1  # the device, loaded by django-otp
