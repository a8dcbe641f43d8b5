"""Numbers in a query string or a form, read strictly.

``str.isdigit()`` accepts superscripts ("²") that ``int()`` refuses, and
``int()`` accepts digits of other scripts ("١٢٣"), signs, spaces and
underscores: a value checked with one and converted with the other answered a
500 (#10). Here only ASCII digits count, and few enough of them to fit a
PostgreSQL bigint.
"""

from __future__ import annotations

import re

_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")


def ascii_int(text: str) -> int | None:
    """The integer that ``text`` spells in 1–18 ASCII digits, else None."""
    return int(text) if _ASCII_DIGITS.fullmatch(text) else None
