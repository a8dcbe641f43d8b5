"""A user's second factor: enrol an authenticator app, confirm it with a first
code, regenerate the recovery codes, turn it off, and check a code at sign-in.

Every function takes the user whose factor it is; the views pass
``request.user``, so nobody reaches another user's devices. A code is checked
with the device row locked (``select_for_update``): django-otp's replay guard
(a TOTP code counts once) and its throttle hold under concurrent requests.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.two_factor.recovery import RecoveryCodes, looks_like_a_code

AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


@dataclass(frozen=True)
class Enrolled:
    device: TOTPDevice
    recovery_codes: list[str]  # in clear, to be shown once


def has_two_factor(user) -> bool:
    """Whether ``user`` signs in with a second factor (a confirmed authenticator)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_on(user_column: str) -> str:
    """``has_two_factor`` as an SQL expression for the user id in
    ``user_column`` of each row (tenancy reads it with the memberships it loads
    for every page)."""
    return (
        f"EXISTS (SELECT 1 FROM {TOTPDevice._meta.db_table} d"
        f" WHERE d.user_id = {user_column} AND d.confirmed)"
    )


def authenticator(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_enrolment(user) -> TOTPDevice | None:
    """The authenticator being set up: shown as a QR code, not yet confirmed."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def recovery_codes_left(user) -> int:
    device = RecoveryCodes.objects.filter(user=user, confirmed=True).first()
    return device.remaining() if device else 0


def secret_text(device: TOTPDevice) -> str:
    """The secret for manual entry in an authenticator app: base32 in groups of 4."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def start_enrolment(*, user) -> TOTPDevice | None:
    """A new, unconfirmed authenticator with a fresh secret (any earlier
    unconfirmed one is dropped). None when ``user`` already has two-factor on."""
    with transaction.atomic():
        if has_two_factor(user):
            return None
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def confirm_enrolment(*, user, code: str) -> Enrolled | None:
    """Turn two-factor on when ``code`` is the authenticator's current code; the
    user gets ten new recovery codes. None (nothing changed) for a wrong code."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-pk")
            .first()
        )
        if device is None or not device.verify_token(code):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        recovery, _ = RecoveryCodes.objects.get_or_create(
            user=user, defaults={"name": RECOVERY_NAME, "confirmed": True}
        )
        return Enrolled(device=device, recovery_codes=recovery.replace_codes())


def verify_code(*, user, code: str) -> Device | None:
    """The device that accepts ``code`` (an authenticator code, or an unused
    recovery code, which is spent), or None. Six digits are an authenticator
    code; anything else is tried as a recovery code only."""
    code = (code or "").strip().replace(" ", "")
    with transaction.atomic():
        if code.isdigit():
            device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True)
        elif looks_like_a_code(code):
            device = RecoveryCodes.objects.select_for_update().filter(user=user, confirmed=True)
        else:
            return None
        device = device.first()
        if device is not None and device.verify_token(code):
            return device
        return None


def verify_authenticator(*, user, code: str) -> TOTPDevice | None:
    """Like ``verify_code``, but only the authenticator app's code counts: what a
    signed-in user gives to regenerate recovery codes or turn two-factor off."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit():
        return None
    device = verify_code(user=user, code=code)
    return device if isinstance(device, TOTPDevice) else None


def regenerate_recovery_codes(*, user, code: str) -> list[str] | None:
    """Ten new recovery codes (the old ones stop working), given a fresh
    authenticator code; None for a wrong code."""
    with transaction.atomic():
        if verify_authenticator(user=user, code=code) is None:
            return None
        recovery, _ = RecoveryCodes.objects.get_or_create(
            user=user, defaults={"name": RECOVERY_NAME, "confirmed": True}
        )
        return recovery.replace_codes()


def disable(*, user, code: str) -> bool:
    """Turn two-factor off (authenticator and recovery codes deleted), given a
    fresh authenticator code. False, nothing changed, for a wrong code."""
    with transaction.atomic():
        if verify_authenticator(user=user, code=code) is None:
            return False
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        return True
