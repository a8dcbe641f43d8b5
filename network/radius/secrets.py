"""Shared secrets of RADIUS clients, encrypted at rest.

A RADIUS secret signs and checks every packet, so it must be stored so that it
can be read back (unlike a token, which is kept only as a hash). It is
encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``) under
a key derived from ``RADIUS_SECRET_KEY``, or from ``SECRET_KEY`` when that is not
set; rotating ``SECRET_KEY`` without setting ``RADIUS_SECRET_KEY`` to the old one
makes the stored secrets unreadable (docs/radius.md "Secrets").
"""

from __future__ import annotations

import base64
import functools
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

#: Most characters of a secret (a RADIUS secret is used as bytes; 64 is plenty
#: and every NAS accepts it).
MAX_LENGTH = 64
#: Fewest characters of a secret an operator may set.
MIN_LENGTH = 16


class SecretUnreadable(Exception):
    """The stored secret was encrypted under another key."""


@functools.cache
def _fernet(key_material: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"endpoint-portal radius client secrets",
    ).derive(key_material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _cipher() -> Fernet:
    return _fernet(getattr(settings, "RADIUS_SECRET_KEY", "") or settings.SECRET_KEY)


def encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "The RADIUS secret cannot be decrypted with the current key "
            "(RADIUS_SECRET_KEY, else SECRET_KEY)."
        ) from exc


def generate() -> str:
    """A new secret: 32 URL-safe characters (192 bits), printable for a NAS's config."""
    return secrets.token_urlsafe(24)


def check(secret: str) -> str | None:
    """Why ``secret`` cannot be used, or None."""
    if not MIN_LENGTH <= len(secret) <= MAX_LENGTH:
        return f"A secret has {MIN_LENGTH} to {MAX_LENGTH} characters; this one has {len(secret)}."
    if not secret.isprintable() or not secret.isascii():
        return "A secret has printable ASCII characters only."
    return None
