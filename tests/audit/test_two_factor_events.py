"""Two-factor events in the audit log, one row each with the user and address:
a refused code at the sign-in step, a recovery code used, two-factor turned on
and off, and an account's requirement changed."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditAction, AuditEvent
from tests.two_factor import code_at, code_step, password_step, turn_on

pytestmark = pytest.mark.django_db

IP = {"REMOTE_ADDR": "192.0.2.70"}


def rows(action):
    return list(AuditEvent.objects.filter(action=action))


def test_a_wrong_code_is_a_refused_second_factor_not_a_wrong_password(client, operator):
    turn_on(operator)
    password_step(client, "op", **IP)

    code_step(client, "000000", **IP)

    [row] = rows(AuditAction.MFA_FAILED)
    assert (row.actor, row.ip, row.account) == (operator, "192.0.2.70", None)
    assert not rows(AuditAction.SIGN_IN_FAILED) and not rows(AuditAction.SIGN_IN)


def test_signing_in_with_a_recovery_code_is_recorded_once(client, operator):
    _, codes = turn_on(operator)
    password_step(client, "op", **IP)

    code_step(client, codes[0], **IP)

    [used] = rows(AuditAction.MFA_RECOVERY_CODE_USED)
    assert (used.actor, used.ip, used.details) == (operator, "192.0.2.70", {"left": 9})
    [signed_in] = rows(AuditAction.SIGN_IN)
    assert signed_in.actor == operator


def test_turning_two_factor_on_and_off_is_recorded(client, operator):
    client.force_login(operator)
    client.post(reverse("security:enrol"), **IP)
    device = TOTPDevice.objects.get(user=operator)

    client.post(reverse("security:confirm"), {"code": code_at(device)}, **IP)
    [enabled] = rows(AuditAction.MFA_ENABLED)
    assert (enabled.actor, enabled.ip) == (operator, "192.0.2.70")

    device.refresh_from_db()
    client.post(
        reverse("security:disable"), {"code": code_at(device, device.last_t * 30 + 30)}, **IP
    )
    [disabled] = rows(AuditAction.MFA_DISABLED)
    assert (disabled.actor, disabled.ip) == (operator, "192.0.2.70")


def test_an_accounts_requirement_is_recorded_in_that_account(client, account, admin_member):
    device, _ = turn_on(admin_member)
    password_step(client, "adm")
    code_step(client, code_at(device))

    client.post(reverse("security:require"), {"require_mfa": "on"}, **IP)

    [row] = rows(AuditAction.MFA_REQUIREMENT_CHANGED)
    assert (row.account, row.actor, row.details) == (account, admin_member, {"required": True})
