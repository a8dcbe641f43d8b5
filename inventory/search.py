"""How the list's search box (``q``) becomes SQL.

Operators search by what is printed on the SIM or its packaging: a full ICCID, its
first or last digits, an IMSI, a device name or a reference. Each shape of input
goes to the index built for it, because at 600,000 endpoints in one account a
sequential scan costs close to a second (docs/product.md, "Design facts at a million endpoints"):

- 19–20 digits: the ICCID, exact, through the unique index;
- digits starting with 89 (every ICCID does, no IMSI does): an ICCID prefix, one
  range of ``endpoint_acct_iccid`` (``iccid`` has the C collation, so the btree
  serves ``LIKE 'x%'``). Nothing is OR-ed to it: an OR turns the range into a
  filter, and "8931440000002" then walked 200,000 index entries (0.8 s);
- other digits, at least 4: the last digits of an ICCID
  (``endpointsearch_iccid_rev`` on the search copy's ``reverse(iccid)``) or of
  an IMSI (``imsi_rev``), or, from 12 digits on, an IMSI prefix
  (``imsi_unique``; a full IMSI is the longest prefix). IMSIs are
  issued in sequence, so a shorter prefix names an operator or a batch, not a
  SIM, and matches up to millions (10 digits matched 100,000 demo SIMs and took
  2 s); 12 digits leave at most 1,000. 1–3 trailing digits would match a tenth
  or more of the fleet;
- anything else: name or reference contains, through the trigram GIN indexes on
  ``UPPER(col)``, which serve ``icontains`` from three characters on.

Name, reference and the ICCID's last digits are searched in
``EndpointSearch``, the database-kept copy that carries their indexes (why:
models.EndpointSearch), never on the endpoint row.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from inventory.identifiers import is_iccid_shaped, label_digits
from inventory.models import IMSI, Endpoint, EndpointSearch

#: Trigram indexes only help from three characters on; shorter text would scan.
MIN_TEXT_LENGTH = 3
#: Fewer trailing digits than this match too large a share of the fleet.
MIN_SUFFIX_DIGITS = 4
#: From this length on, digits may also be the start of an IMSI.
MIN_IMSI_PREFIX_DIGITS = 12
MAX_LENGTH = 100


_ENDPOINTS = connection.ops.quote_name(Endpoint._meta.db_table)
_SEARCH = connection.ops.quote_name(EndpointSearch._meta.db_table)
_IMSIS = connection.ops.quote_name(IMSI._meta.db_table)

# One expression per index; the text of each ``reverse(...)`` must match the index
# definition exactly or PostgreSQL will not use it. Positional parameters: this is
# a RawSQL condition spliced into the queryset's SQL, which Django compiles with
# ``%s``, and psycopg does not mix named and positional ones in a statement.
_SUFFIX_MATCH_SQL = f"""
    {_ENDPOINTS}."id" IN (
        SELECT endpoint_id FROM {_SEARCH} WHERE reverse(iccid::text) LIKE %s
        UNION
        SELECT endpoint_id FROM {_IMSIS} WHERE reverse(imsi::text) LIKE %s
        {{imsi_prefix}}
    )
"""
_IMSI_PREFIX_SQL = f"UNION SELECT endpoint_id FROM {_IMSIS} WHERE imsi::text LIKE %s"


def _iccid_start(digits: str) -> bool:
    """Digits that can only be the start of an ICCID ("8", "89", "8931…")."""
    return digits.startswith("89") or digits == "8"


def clean_query(raw: str) -> str:
    """The search text as it will be matched, or ``ValidationError`` for text too
    short to search without a full scan. A number copied from a label may contain
    spaces or dashes; they are dropped."""
    text = (raw or "").strip()[:MAX_LENGTH]
    digits = label_digits(text)
    if digits is not None:
        if not _iccid_start(digits) and len(digits) < MIN_SUFFIX_DIGITS:
            raise ValidationError(
                f"Type at least {MIN_SUFFIX_DIGITS} digits to search by the last digits of an "
                "ICCID or IMSI (an ICCID's first digits start with 89).",
                code="search_short_digits",
            )
        return digits
    if text and len(text) < MIN_TEXT_LENGTH:
        raise ValidationError(
            f"Type at least {MIN_TEXT_LENGTH} characters to search names and references "
            "(or digits of an ICCID or IMSI).",
            code="search_short",
        )
    return text


def search(*, endpoints: QuerySet[Endpoint], q: str) -> QuerySet[Endpoint]:
    """Narrow ``endpoints`` (one account's) to those matching ``q`` (already
    through ``clean_query``). The sub-selects of digits are not limited to the
    account: ``endpoints`` is, and a suffix of four digits or more matches few
    endpoints in all."""
    text = clean_query(q)
    if not text:
        return endpoints
    if label_digits(text) is not None:  # clean_query left only the digits
        if is_iccid_shaped(text):
            return endpoints.filter(iccid=text)
        # Digits only, so there are no LIKE wildcards to escape.
        if _iccid_start(text):
            return endpoints.filter(iccid__startswith=text)
        reversed_text = f"{text[::-1]}%"
        params = [reversed_text, reversed_text]
        imsi_prefix = ""
        if len(text) >= MIN_IMSI_PREFIX_DIGITS:
            imsi_prefix = _IMSI_PREFIX_SQL
            params.append(f"{text}%")
        condition = RawSQL(
            _SUFFIX_MATCH_SQL.format(imsi_prefix=imsi_prefix), params, output_field=BooleanField()
        )
        return endpoints.filter(condition)
    return text_contains(endpoints, text)


def text_contains(endpoints: QuerySet[Endpoint], text: str) -> QuerySet[Endpoint]:
    """Endpoints whose name or reference contains ``text``, case-insensitively
    (``icontains`` compiles to the ``UPPER(col) LIKE`` the trigram indexes serve)."""
    matches = EndpointSearch.objects.filter(
        Q(name__icontains=text) | Q(reference__icontains=text)
    ).values("endpoint_id")
    return endpoints.filter(pk__in=matches)
