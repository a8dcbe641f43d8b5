"""Recovery codes: ten single-use codes for when the authenticator app is lost.

django-otp's static device stores its tokens as they are; this proxy stores the
SHA-256 of each code instead (truncated to the 16 characters django-otp's token
column holds), so neither the database nor Django admin ever shows a usable code.
A code has 60 random bits, so its hash needs no slow key stretching. Using a code
deletes its row in one statement: two sign-ins racing with the same code cannot
both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from base64 import b32encode

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

#: How many codes a user gets at a time.
CODE_COUNT = 10
#: Characters a code is written with (RFC 4648 base32, lower case, no padding).
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_code() -> str:
    """A fresh code such as ``k7dq-3m2x-p9ra``: 12 base32 characters, 60 bits."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise(code: str) -> str:
    """What the user typed, without spaces, dashes or case."""
    return "".join(char for char in code.lower() if char.isalnum())


def code_hash(code: str) -> str:
    """The stored form of ``code``: 16 base32 characters of its SHA-256."""
    digest = hashlib.sha256(normalise(code).encode()).digest()
    return b32encode(digest[:10]).decode().lower()


def looks_like_a_code(value: str) -> bool:
    raw = normalise(value)
    return len(raw) == 12 and all(char in _ALPHABET for char in raw)


class RecoveryCodes(StaticDevice):
    """A user's recovery codes, as hashes (``StaticToken.token``)."""

    class Meta:
        proxy = True
        app_label = "portal"
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def replace_codes(self) -> list[str]:
        """Throw the old codes away and return ten new ones, shown only now."""
        codes = [new_code() for _ in range(CODE_COUNT)]
        with transaction.atomic():
            self.token_set.all().delete()
            StaticToken.objects.bulk_create(
                StaticToken(device=self, token=code_hash(code)) for code in codes
            )
        return codes

    def remaining(self) -> int:
        return self.token_set.count()

    def verify_token(self, token) -> bool:
        """Whether ``token`` is one of the unused codes; using it spends it.
        django-otp's throttle applies, as for the static device."""
        if not isinstance(token, str) or not looks_like_a_code(token):
            return False
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        deleted, _ = self.token_set.filter(token=code_hash(token)).delete()
        if deleted:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment()
        return False
