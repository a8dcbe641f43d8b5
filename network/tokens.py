"""Bearer tokens of the packet core: generated here, shown once, stored hashed.

Only the SHA-256 of a token is kept, so a database dump does not hand out
working credentials; a lost token is replaced, never recovered.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction

from inventory.models import NetworkToken


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The hex SHA-256 stored in ``NetworkToken.token_hash`` and looked up on each call."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str) -> tuple[NetworkToken, str]:
    """Store a new enabled token under ``name``; return it with the plain token,
    which the caller shows once and which is not stored anywhere."""
    token = new_token()
    with transaction.atomic():
        record = NetworkToken.objects.create(name=name, token_hash=hash_token(token))
    return record, token
