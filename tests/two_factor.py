"""Two-factor helpers for tests: a user with an authenticator and recovery codes,
and the authenticator's code at a given time (computed as the app would)."""

from __future__ import annotations

import time

from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.two_factor.recovery import RecoveryCodes


def code_at(device: TOTPDevice, when: float | None = None) -> str:
    """The 6-digit code the authenticator app shows at ``when`` (now by default)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if when is None else when
    return f"{totp.token():0{device.digits}d}"


def code_from_secret(secret: str, when: float | None = None) -> str:
    """The code for a secret as the Security page shows it (base32 in groups)."""
    from base64 import b32decode

    raw = secret.replace(" ", "").upper()
    key = b32decode(raw + "=" * (-len(raw) % 8))
    totp = TOTP(key)
    totp.time = time.time() if when is None else when
    return f"{totp.token():06d}"


def turn_on(user) -> tuple[TOTPDevice, list[str]]:
    """``user`` with a confirmed authenticator (no code used yet) and ten codes."""
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    recovery = RecoveryCodes.objects.create(user=user, name="Recovery codes", confirmed=True)
    return device, recovery.replace_codes()


def password_step(client, username: str, password: str = "pw", **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def code_step(client, code: str, **extra):
    return client.post(reverse("login_code"), {"code": code}, **extra)
