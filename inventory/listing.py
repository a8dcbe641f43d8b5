"""Sorting, keyset pagination and the bounded count of the endpoint list.

Every page costs the same whatever its depth: pages are found by keyset
(``WHERE (sort key, iccid) > (cursor)``) along an account-leading index, never by
OFFSET, which PERF-NOTES.md measured at 400 ms for page 5,000. Each ordering is
exactly the order of one index (or its backward scan), ending with the ICCID as
the unique tie-breaker, so a page is an index range read of ``per_page + 1`` rows.

Nullable sort keys (last activity, group) are read in two segments, the rows with
a value and the rows without, each its own index range; a page that crosses from
one segment into the next is one ``UNION ALL`` of the two ranges, so it is still
one query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core import signing
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL

from inventory.models import Endpoint

PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 50
#: Beyond this the list says "1,000+": counting 600,000 rows on every keystroke
#: would cost more than the page itself, and where a tag or trigram filter must
#: visit each matching row, even 10,000 of them cost 100-200 ms at a million
#: endpoints (docs/benchmark.md). The confirmation of "select all matching"
#: counts exactly, once.
COUNT_LIMIT = 1_000
_CURSOR_SALT = "inventory.endpoint-list.cursor"


@dataclass(frozen=True)
class Key:
    """One column of an ordering, as its index stores it."""

    column: str
    descending: bool = False
    nulls_first: bool = False
    nullable: bool = False

    def reversed(self) -> Key:
        return Key(self.column, not self.descending, not self.nulls_first, self.nullable)

    def order_by(self):
        expression = F(self.column)
        if not self.nullable:
            return expression.desc() if self.descending else expression.asc()
        nulls = {"nulls_first": True} if self.nulls_first else {"nulls_last": True}
        return expression.desc(**nulls) if self.descending else expression.asc(**nulls)


@dataclass(frozen=True)
class Sort:
    """An ordering of the list: a sort key (or none) then the ICCID."""

    name: str
    label: str
    key: Key | None
    iccid: Key

    def reversed(self) -> Sort:
        return Sort(self.name, self.label, self.key and self.key.reversed(), self.iccid.reversed())

    def order_by(self) -> list:
        return ([self.key.order_by()] if self.key else []) + [self.iccid.order_by()]


def _pair(name: str, label: str, column: str | None, nullable: bool = False) -> dict[str, Sort]:
    """The ascending and descending sorts on ``column``, each the forward or
    backward scan of the same index (so ``-x`` reverses the ICCID too)."""
    if column is None:
        forward = Sort(name, label, None, Key("iccid"))
    else:
        # An index (account, column ASC NULLS LAST, iccid) read forwards and backwards.
        forward = Sort(name, label, Key(column, nullable=nullable), Key("iccid"))
    backward = forward.reversed()
    return {name: forward, f"-{name}": Sort(f"-{name}", label, backward.key, backward.iccid)}


SORTS: dict[str, Sort] = {
    **_pair("iccid", "ICCID", None),
    **_pair("name", "Name", "name"),
    **_pair("state", "State", "state"),
    # By group id, not by name: rows of a group stay together, read along the index
    # (account, primary_group, iccid); endpoints without a group come last.
    **_pair("group", "Group", "primary_group_id", nullable=True),
}
# Most recent first is the natural reading of "last activity", and the index is
# built that way: (account, last_activity DESC NULLS LAST, iccid). Never-seen SIMs
# come last; ascending is the backward scan (never seen first, then the oldest).
_recent_first = Sort(
    "-last_activity",
    "Last activity",
    Key("last_activity", descending=True, nullable=True),
    Key("iccid"),
)
_oldest_first = _recent_first.reversed()
SORTS["-last_activity"] = _recent_first
SORTS["last_activity"] = Sort(
    "last_activity", "Last activity", _oldest_first.key, _oldest_first.iccid
)
DEFAULT_SORT = "iccid"

#: Columns the list and its cursors need; the rest of the row is not read.
LIST_COLUMNS = (
    "id",
    "iccid",
    "name",
    "reference",
    "tags",
    "state",
    "primary_group_id",
    "last_activity",
)


def parse_sort(value: str | None) -> Sort:
    return SORTS.get(value or "", SORTS[DEFAULT_SORT])


def parse_page_size(value: str | None) -> int:
    """25, 50, 100 or 250; anything else quietly means the default."""
    try:
        size = int(value or "")
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


# --- cursors ---------------------------------------------------------------------


def _key_value(key: Key, row: Endpoint):
    value = getattr(row, key.column)
    return value.isoformat() if isinstance(value, dt.datetime) else value


def encode_cursor(sort: Sort, row: Endpoint) -> str:
    """An opaque, signed token for the position of ``row`` in ``sort``."""
    values = [_key_value(sort.key, row) if sort.key else None, row.iccid]
    return signing.dumps({"s": sort.name, "v": values}, salt=_CURSOR_SALT)


class BadCursor(ValueError):
    pass


def decode_cursor(token: str, sort: Sort) -> tuple:
    """(key value, iccid) from a token made for ``sort``; ``BadCursor`` otherwise.

    Signed so that a hand-edited cursor cannot put arbitrary values in the query;
    a cursor of another sort order is refused rather than misread."""
    try:
        payload = signing.loads(token, salt=_CURSOR_SALT)
        if payload["s"] != sort.name:
            raise BadCursor("cursor of another sort order")
        value, iccid = payload["v"]
        if not isinstance(iccid, str):
            raise BadCursor("no ICCID in cursor")
        if sort.key and value is not None:
            if sort.key.column == "last_activity":
                value = dt.datetime.fromisoformat(value)
            elif sort.key.column == "primary_group_id" and not isinstance(value, int):
                raise BadCursor("bad group in cursor")
            elif sort.key.column in ("name", "state") and not isinstance(value, str):
                raise BadCursor("bad text in cursor")
        elif sort.key and not sort.key.nullable:
            raise BadCursor("missing sort value in cursor")
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadCursor(str(exc)) from exc
    return value, iccid


# --- pages -----------------------------------------------------------------------

_TABLE = '"inventory_endpoint"'


def _col(column: str) -> str:
    return f'{_TABLE}."{column}"'


def _after(sort: Sort, value, iccid: str) -> Q | RawSQL:
    """Rows strictly after (value, iccid) in ``sort``, within the cursor's segment."""
    iccid_op = "<" if sort.iccid.descending else ">"
    if sort.key is None or (sort.key.nullable and value is None):
        return Q(**{f"iccid__{'lt' if sort.iccid.descending else 'gt'}": iccid})
    key = sort.key
    key_op = "<" if key.descending else ">"
    if key.descending == sort.iccid.descending:
        # A row comparison is one index range: the scan starts at the cursor even
        # when thousands of rows share the key (e.g. 200,000 "active").
        sql = f"({_col(key.column)}, {_col('iccid')}) {key_op} (%s, %s)"
    else:
        # Mixed directions (recent first, ICCID ascending): the key bounds the
        # range; rows sharing the cursor's timestamp are few.
        sql = (
            f"({_col(key.column)} {key_op}= %s AND "
            f"({_col(key.column)} {key_op} %s OR {_col('iccid')} {iccid_op} %s))"
        )
        return RawSQL(sql, (value, value, iccid), output_field=BooleanField())
    return RawSQL(sql, (value, iccid), output_field=BooleanField())


def _segments(sort: Sort) -> list[Q | None]:
    """The index ranges an ordering reads, in order: one, or for a nullable key the
    rows with a value and those without."""
    if sort.key is None or not sort.key.nullable:
        return [None]
    has_value = Q(**{f"{sort.key.column}__isnull": False})
    no_value = Q(**{f"{sort.key.column}__isnull": True})
    return [no_value, has_value] if sort.key.nulls_first else [has_value, no_value]


def _python_order(sort: Sort, rows: list[Endpoint]) -> list[Endpoint]:
    """The SQL order of rows from a UNION ALL (whose result order SQL leaves open)."""
    rows = sorted(rows, key=lambda r: r.iccid, reverse=sort.iccid.descending)
    if sort.key is None:
        return rows
    column = sort.key.column
    with_value = [r for r in rows if getattr(r, column) is not None]
    without = [r for r in rows if getattr(r, column) is None]
    with_value.sort(key=lambda r: getattr(r, column), reverse=sort.key.descending)
    return without + with_value if sort.key.nulls_first else with_value + without


@dataclass
class Page:
    rows: list[Endpoint]
    sort: Sort
    has_next: bool = False
    has_prev: bool = False
    next_cursor: str | None = None
    prev_cursor: str | None = None


def fetch_page(
    *,
    endpoints: QuerySet[Endpoint],
    sort: Sort,
    per_page: int,
    after: tuple | None = None,
    before: tuple | None = None,
) -> Page:
    """One page of ``endpoints`` in ``sort``, after or before a decoded cursor, in
    one query of at most ``per_page + 1`` rows per index range read."""
    reading = sort.reversed() if before else sort
    cursor = before or after
    endpoints = endpoints.only(*LIST_COLUMNS)
    branches = []
    segments = _segments(reading)
    start = 0
    if cursor is not None:
        value, iccid = cursor
        if len(segments) == 2:
            in_first = (value is None) == bool(reading.key.nulls_first)
            start = 0 if in_first else 1
        first = endpoints.filter(_after(reading, value, iccid))
        if segments[start] is not None:
            first = first.filter(segments[start])
        branches.append(first)
        start += 1
    branches += [endpoints.filter(segment) for segment in segments[start:] if segment is not None]
    if not branches:
        branches = [endpoints]
    limited = [b.order_by(*reading.order_by())[: per_page + 1] for b in branches]
    if len(limited) == 1:
        rows = list(limited[0])
    else:
        # The outer LIMIT stops PostgreSQL's Append, which reads its branches in
        # order, as soon as the first range has filled the page: the second range
        # is only read on the page that crosses into it.
        combined = limited[0].union(*limited[1:], all=True)[: per_page + 1]
        rows = _python_order(reading, list(combined))
    more = len(rows) > per_page
    rows = rows[:per_page]
    if before:
        rows.reverse()
        page = Page(rows, sort, has_next=bool(rows), has_prev=more)
    else:
        page = Page(rows, sort, has_next=more, has_prev=cursor is not None)
    if rows and page.has_next:
        page.next_cursor = encode_cursor(sort, rows[-1])
    if rows and page.has_prev:
        page.prev_cursor = encode_cursor(sort, rows[0])
    return page


def bounded_count(endpoints: QuerySet[Endpoint]) -> tuple[int, bool]:
    """(count, more): the exact count up to ``COUNT_LIMIT``, and whether there are
    more. One ``SELECT count(*) FROM (... LIMIT 10001)``."""
    counted = endpoints.order_by().values("pk")[: COUNT_LIMIT + 1].count()
    return min(counted, COUNT_LIMIT), counted > COUNT_LIMIT
