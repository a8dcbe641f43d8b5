"""How the list's search box (``q``) becomes SQL.

Operators search by what is printed on the SIM or its packaging: a full ICCID, its
first or last digits, an IMSI, a device name or a reference. Each shape of input
goes to the index built for it, because at 600,000 endpoints in one account a
sequential scan costs close to a second (PERF-NOTES.md):

- 19–20 digits: the ICCID, exact, through the unique index;
- fewer digits: ICCID prefix (``iccid`` has the C collation, so its btree serves
  ``LIKE 'x%'``) or suffix (``endpoint_iccid_rev`` on ``reverse(iccid)``), or an
  IMSI prefix or suffix (``imsi_unique`` / ``imsi_rev``); an IMSI of 14–15 digits
  is simply a prefix match of full length;
- anything else: name or reference contains, through the trigram GIN indexes on
  ``UPPER(col)``, which serve ``icontains`` from three characters on.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from inventory.models import Endpoint

#: Trigram indexes only help from three characters on; shorter text would scan.
MIN_TEXT_LENGTH = 3
MAX_LENGTH = 100

_DIGITS = re.compile(r"^[0-9]+$")
_SEPARATORS = re.compile(r"[\s-]+")

# One expression per index; the text of each ``reverse(...)`` must match the index
# definition exactly or PostgreSQL will not use it.
_DIGIT_MATCH_SQL = """
    "inventory_endpoint"."id" IN (
        SELECT id FROM inventory_endpoint
         WHERE account_id = %s AND iccid::text LIKE %s
        UNION
        SELECT id FROM inventory_endpoint
         WHERE reverse(iccid::text) LIKE %s AND account_id = %s
        UNION
        SELECT endpoint_id FROM inventory_imsi WHERE imsi::text LIKE %s
        UNION
        SELECT endpoint_id FROM inventory_imsi WHERE reverse(imsi::text) LIKE %s
    )
"""


def clean_query(raw: str) -> str:
    """The search text as it will be matched, or ``ValidationError`` for text too
    short to search without a full scan. A number copied from a label may contain
    spaces or dashes; they are dropped."""
    text = (raw or "").strip()[:MAX_LENGTH]
    compact = _SEPARATORS.sub("", text)
    if _DIGITS.match(compact):
        return compact
    if text and len(text) < MIN_TEXT_LENGTH:
        raise ValidationError(
            f"Type at least {MIN_TEXT_LENGTH} characters to search names and references "
            "(or digits of an ICCID or IMSI).",
            code="search_short",
        )
    return text


def search(*, endpoints: QuerySet[Endpoint], q: str, account_id: int) -> QuerySet[Endpoint]:
    """Narrow ``endpoints`` to those matching ``q`` (already through ``clean_query``).

    ``account_id`` keeps the ICCID sub-selects inside the account's index range.
    """
    text = clean_query(q)
    if not text:
        return endpoints
    if _DIGITS.match(text):
        if 19 <= len(text) <= 20:
            return endpoints.filter(iccid=text)
        # Digits only, so no LIKE wildcards to escape.
        prefix, suffix = f"{text}%", f"{text[::-1]}%"
        condition = RawSQL(
            _DIGIT_MATCH_SQL,
            (account_id, prefix, suffix, account_id, prefix, suffix),
            output_field=BooleanField(),
        )
        return endpoints.filter(condition)
    return endpoints.filter(Q(name__icontains=text) | Q(reference__icontains=text))
