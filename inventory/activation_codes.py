"""Activation codes: what a valid one is, and the keyed, deliberately slow hash
stock keeps instead of the code (docs/activation.md).

A code is typed from a SIM's packaging, so it is compared without its spaces
and dashes and without regard to case. The hash is PBKDF2-SHA256 over an HMAC
of the code keyed with the project's secret key, with a per-SIM salt:
a copy of the database alone is no help in guessing codes, and with the key a
guess still costs one PBKDF2 run. The iteration count is stored in every hash,
so raising ``ITERATIONS`` later keeps old hashes valid.

``ITERATIONS`` was chosen by measurement on the 2-core benchmark machine: one
hash costs 3.5 ms at 10,000 iterations (1.8 ms at 5,000, 7.9 ms at 20,000,
17 ms at 50,000; scrypt n=2^12 11 ms). Every activation attempt pays one hash
whatever its outcome (``verify`` against ``DUMMY_HASH`` when the ICCID is
unknown), and a stock import pays one per SIM: 35 s for 10,000 SIMs.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare, salted_hmac

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 10_000
MIN_LENGTH = 8
MAX_LENGTH = 64
_KEY_SALT = "inventory.activation-code"
_SEPARATORS = re.compile(r"[\s-]+")
_CODE = re.compile(r"[A-Z0-9]+")


def clean_code(value: str) -> str:
    """The code as compared: spaces and dashes dropped, upper case; letters and
    digits only, 8 to 64 of them."""
    code = _SEPARATORS.sub("", value or "").upper()
    if not code:
        raise ValidationError("Enter the activation code.", code="code_missing")
    if not _CODE.fullmatch(code):
        raise ValidationError(
            "An activation code has letters and digits only.", code="code_characters"
        )
    if not MIN_LENGTH <= len(code) <= MAX_LENGTH:
        raise ValidationError(
            f"An activation code has {MIN_LENGTH} to {MAX_LENGTH} characters; "
            f"this one has {len(code)}.",
            code="code_length",
        )
    return code


def _derive(code: str, salt: str, iterations: int) -> str:
    keyed = salted_hmac(_KEY_SALT, code, algorithm="sha256").digest()
    digest = hashlib.pbkdf2_hmac("sha256", keyed, salt.encode(), iterations)
    return base64.b64encode(digest).decode("ascii")


def make_hash(code: str, *, iterations: int = ITERATIONS) -> str:
    """The stored form of a cleaned code: ``algorithm$iterations$salt$hash``."""
    salt = secrets.token_urlsafe(12)
    return f"{ALGORITHM}${iterations}${salt}${_derive(code, salt, iterations)}"


def verify(code: str, encoded: str) -> bool:
    """Whether ``code`` (cleaned) is the one ``encoded`` was made from; a
    malformed hash is simply no match. Costs one PBKDF2 run either way."""
    try:
        algorithm, iterations, salt, expected = encoded.split("$", 3)
        rounds = int(iterations)
    except ValueError:
        algorithm, rounds, salt, expected = "", ITERATIONS, "", ""
    actual = _derive(code, salt, rounds)
    return algorithm == ALGORITHM and constant_time_compare(actual, expected)


#: What an unknown ICCID's code is checked against, so that it costs the same
#: time as a known one (no code matches it: its hash is of no 8-character code).
DUMMY_HASH = f"{ALGORITHM}${ITERATIONS}$unknown-iccid${'A' * 43}="
