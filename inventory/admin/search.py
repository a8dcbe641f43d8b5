"""How a support search term becomes SQL across every account.

Unlike the portal's search (``inventory.search``), support is not inside one
account, so the ICCID sub-selects have no account range, and any number of
digits is tried as a prefix or suffix. Digits go to the ICCID/IMSI indexes,
text to the trigram indexes: never a sequential scan of a million rows.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from inventory.identifiers import is_iccid_shaped, label_digits
from inventory.models import IMSI, Endpoint, EndpointSearch
from inventory.search import text_contains

_ENDPOINTS = connection.ops.quote_name(Endpoint._meta.db_table)
_IMSIS = connection.ops.quote_name(IMSI._meta.db_table)
_SEARCH = connection.ops.quote_name(EndpointSearch._meta.db_table)

# Each ``reverse(...)`` must read exactly like its index definition to be used.
# Positional parameters: a RawSQL condition spliced into the queryset's SQL, which
# Django compiles with ``%s`` (psycopg does not mix named and positional ones).
_DIGITS_SQL = f"""
    {_ENDPOINTS}."id" IN (
        SELECT id FROM {_ENDPOINTS} WHERE iccid::text LIKE %s
        UNION SELECT endpoint_id FROM {_SEARCH} WHERE reverse(iccid::text) LIKE %s
        UNION SELECT endpoint_id FROM {_IMSIS} WHERE imsi::text LIKE %s
        UNION SELECT endpoint_id FROM {_IMSIS} WHERE reverse(imsi::text) LIKE %s
    )
"""


def search_endpoints(queryset: QuerySet[Endpoint], term: str) -> QuerySet[Endpoint]:
    """ICCID exact, prefix or suffix and IMSI prefix or suffix for digits; name
    or reference contains for text. Each branch has its index; a NUL, which
    PostgreSQL cannot compare, matches nothing."""
    term = term.strip()
    if not term:
        return queryset
    if "\x00" in term:
        return queryset.none()
    digits = label_digits(term)
    if digits and is_iccid_shaped(digits):
        return queryset.filter(iccid=digits)
    if digits:
        prefix, suffix = f"{digits}%", f"{digits[::-1]}%"
        return queryset.filter(
            RawSQL(_DIGITS_SQL, (prefix, suffix, prefix, suffix), output_field=BooleanField())
        )
    return text_contains(queryset, term)


def search_imsis(queryset: QuerySet[IMSI], term: str) -> QuerySet[IMSI]:
    """IMSI prefix, or every IMSI of the endpoint with that full ICCID; text
    matches nothing (an IMSI row has no text to search)."""
    term = term.strip()
    if not term:
        return queryset
    digits = label_digits(term)
    if not digits:
        return queryset.none()
    if is_iccid_shaped(digits):
        return queryset.filter(endpoint__iccid=digits)
    return queryset.filter(imsi__startswith=digits)
