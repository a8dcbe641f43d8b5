"""Sorting, keyset pagination and the bounded count of the endpoint list.

Every page costs the same whatever its depth: pages are found by keyset
(``WHERE (sort key, iccid) > (cursor)``) along an account-leading index, never by
OFFSET, which costs 400 ms for page 5,000 (docs/product.md, "Design facts at a
million endpoints"). Each ordering is exactly the order of one index (or its
backward scan), ending with the ICCID as the unique tie-breaker, so a page is an
index range read of ``per_page + 1`` rows.

Nullable sort keys (last activity, group) are read in two segments, the rows with
a value and the rows without, each its own index range; a page that crosses from
one segment into the next is one ``UNION ALL`` of the two ranges, so it is still
one query.

Where walking the sort's index and filtering would skip long stretches of
non-matching rows, a page is read as several ranges merged by an outer
``ORDER BY ... LIMIT`` (still one query, each range ``LIMIT per_page + 1``):
one range per state when the list is filtered by several states and sorted by
state or activity (each state's rows are one range of ``endpoint_acct_state``
or ``endpoint_acct_state_activity``), or is a group sorted by activity, or is
"inactive for" sorted by state; and under "inactive for", its two parts (seen
before the cutoff, never seen), each read only if a one-entry probe of the
activity indexes finds a row of it. The filter's cutoff itself bounds the
activity sort's range of rows with a value (docs/benchmark.md, "Every filter
and sort under 100 ms").

The group sort orders by the group's *name*, which no endpoint index holds. An
account has tens to hundreds of groups, already loaded by the view, so they are
ranked here by (name, id) and their endpoints read group after group along
``endpoint_acct_group`` (account, primary_group, iccid), still in one query: the
page's first group from the cursor's ICCID on, then a ``LATERAL`` join over
``unnest(the later groups' ids) WITH ORDINALITY``, each group's range ``LIMIT
per_page + 1``. The ordinality keeps the groups' order, so PostgreSQL stops after
the groups that fill the page (an incremental sort on the rank, then the ICCID).
Endpoints without a group are the last segment (the first when descending). The
cursor holds the group's name and id, not its rank, so groups added or renamed
between two pages shift nothing. A group (or the ungrouped segment) that holds
no endpoint in the filtered states, by the counts the database keeps
(``usage_statecount``), is skipped before its range is read: PostgreSQL
checks the count once per group (a one-time filter) instead of walking a
300,000-endpoint group to its end to find no pending SIM in it (571 ms before).
With 600,000 endpoints in one account over 204 groups a page costs 0.4-0.7 ms
of SQL (250 rows across small groups: 2-3 ms) wherever it starts
(docs/benchmark.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace

from django.core import signing
from django.db import connection, connections
from django.db.models import BigIntegerField, BooleanField, Exists, F, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate

from inventory.models import Endpoint, Group, State

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

    def order_by(self, expression=None):
        """This key's ordering of ``expression`` (by default its own column)."""
        expression = F(self.column) if expression is None else expression
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

    @property
    def by_group_name(self) -> bool:
        return self.key is not None and self.key.column == "primary_group_id"

    def index_order_by(self) -> list:
        """The order of the sort's index: its key, then the ICCID (the group sort's
        key is the group id, so this is its order within one group)."""
        return ([self.key.order_by()] if self.key else []) + [self.iccid.order_by()]

    def order_by(self) -> list:
        """The sort's whole order as the ORM writes it (the CSV export reads by it;
        pages of the group sort are read group by group instead)."""
        if self.by_group_name:
            # Code-point order of the name, as ``rank_groups`` sorts, then the id.
            name = Collate(F("primary_group__name"), "C")
            return [self.key.order_by(name), *self.index_order_by()]
        return self.index_order_by()


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
    # By the group's name (then its id), read group by group along the index
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


def _key_value(sort: Sort, row: ListRow, group_names: dict[int, str]):
    if sort.by_group_name:
        group_id = row.primary_group_id
        return None if group_id is None else [group_names[group_id], group_id]
    value = getattr(row, sort.key.column)
    return value.isoformat() if isinstance(value, dt.datetime) else value


def encode_cursor(sort: Sort, row: ListRow, group_names: dict[int, str]) -> str:
    """An opaque, signed token for the position of ``row`` in ``sort``. The group
    sort's position is the group's (name, id): it stays right if groups are added
    or renamed between two pages, where a rank would shift."""
    values = [_key_value(sort, row, group_names) if sort.key else None, row.iccid]
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
            elif sort.by_group_name:
                name, group_id = value
                if not isinstance(name, str) or not isinstance(group_id, int):
                    raise BadCursor("bad group in cursor")
                value = (name, group_id)
            elif sort.key.column in ("name", "state") and not isinstance(value, str):
                raise BadCursor("bad text in cursor")
        elif sort.key and not sort.key.nullable:
            raise BadCursor("missing sort value in cursor")
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadCursor(str(exc)) from exc
    return value, iccid


# --- pages -----------------------------------------------------------------------

# The SQL of this section is spliced into (or around) SQL that Django compiles
# with positional ``%s`` parameters, and psycopg does not mix named and
# positional ones in a statement: it stays positional.
_TABLE = connection.ops.quote_name(Endpoint._meta.db_table)


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


def _segments(sort: Sort, inactive_before: dt.datetime | None = None) -> list[Q | None]:
    """The index ranges an ordering reads, in order: one, or for a nullable key the
    rows with a value and those without. Under "inactive for", the rows with an
    activity are those before the cutoff: the filter's ``before OR never`` is no
    index range, so the cutoff bounds the segment's own range instead (the
    first page of ``inactive=30&sort=-last_activity`` walked 470,000 recent rows
    to reach it: 818 ms)."""
    if sort.key is None or not sort.key.nullable:
        return [None]
    if sort.key.column == "last_activity" and inactive_before is not None:
        has_value = Q(last_activity__lt=inactive_before)
    else:
        has_value = Q(**{f"{sort.key.column}__isnull": False})
    no_value = Q(**{f"{sort.key.column}__isnull": True})
    return [no_value, has_value] if sort.key.nulls_first else [has_value, no_value]


def _python_order(sort: Sort, rows: list[ListRow]) -> list[ListRow]:
    """The SQL order of rows from a UNION ALL (whose result order SQL leaves open)."""
    rows = sorted(rows, key=lambda r: r.iccid, reverse=sort.iccid.descending)
    if sort.key is None:
        return rows
    column = sort.key.column
    with_value = [r for r in rows if getattr(r, column) is not None]
    without = [r for r in rows if getattr(r, column) is None]
    with_value.sort(key=lambda r: getattr(r, column), reverse=sort.key.descending)
    return without + with_value if sort.key.nulls_first else with_value + without


def _segment_ranges(
    endpoints: QuerySet[Endpoint],
    reading: Sort,
    cursor: tuple | None,
    inactive_before: dt.datetime | None = None,
) -> list[QuerySet[Endpoint]]:
    """The segments of ``reading`` from the cursor on, in order, each ordered as
    its index range."""
    branches = []
    segments = _segments(reading, inactive_before)
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
    return [branch.order_by(*reading.index_order_by()) for branch in branches]


#: The sort keys whose index leads with the state after the account
#: (``endpoint_acct_state``, ``endpoint_acct_state_activity``).
_STATE_LED = ("state", "last_activity")


def _merged_states(
    reading: Sort, segments: Segments | None, cursor: tuple | None
) -> tuple[str, ...]:
    """The states read as one range each and merged in sort order; none when the
    page is better read as the ordering's own range(s).

    The sort's index holds each state's rows as one range in sort order, but
    walking the account's range in sort order and filtering skips every row of
    the states left out: 333,000 active SIMs before the first suspended one
    with a tag (two states + tag by state: 397 ms), every pending SIM (never
    active, so sorted first by ascending activity) before the first of a group
    (120-260 ms), 470,000 rows of recent states before the first inactive one
    by state (503 ms). Read per state, each range starts at its first match.
    One state is one range already, but not under "inactive for" by state
    (``_by_state_ranges``); with no state filter, the merge is worth its six
    ranges only for "inactive for" by state and a group by activity whose page
    starts among the never-seen rows: most recent first, the group's first
    pages are one range of ``endpoint_acct_activity`` (0.1 ms, where the six
    ranges cost 14 ms)."""
    if segments is None or reading.key is None or reading.key.column not in _STATE_LED:
        return ()
    by_state = reading.key.column == "state"
    if by_state and segments.inactive_before is not None:
        return segments.states or tuple(State.values)
    if segments.states:
        return segments.states if len(segments.states) > 1 else ()
    never_seen_first = reading.key.nulls_first or (cursor is not None and cursor[0] is None)
    wanted = not by_state and segments.group_id is not None and never_seen_first
    return tuple(State.values) if wanted else ()


def _inactive_parts(
    endpoints: QuerySet[Endpoint], segments: Segments, states: Sequence[str]
) -> list[QuerySet[Endpoint]]:
    """The rows under "inactive for" as two parts: never seen, and seen before
    the cutoff. Neither is a range of an index in ICCID, name or state order, so
    each is walked along the sort's index, but only if it holds a row in the
    filtered states: one probe of the activity indexes, which PostgreSQL
    evaluates once, before the walk. Active SIMs inactive for 30 days are
    usually none, and finding none walked all 330,000 (170-590 ms)."""
    return [
        endpoints.filter(part).filter(probe) for part, probe in _inactive_probes(segments, states)
    ]


def _inactive_probes(segments: Segments, states: Sequence[str]) -> list[tuple[Q, Exists]]:
    """Each part of "inactive for" with whether the account holds any row of it
    in ``states`` (all when empty), as a probe of ``endpoint_acct_activity`` or
    ``endpoint_acct_state_activity`` that reads one index entry at most."""
    probe = Endpoint.objects.filter(account_id=segments.account_id)
    if states:
        probe = probe.filter(state__in=states)
    parts = (Q(last_activity__isnull=True), Q(last_activity__lt=segments.inactive_before))
    return [(part, Exists(probe.filter(part))) for part in parts]


def _by_state_ranges(
    one_state: QuerySet[Endpoint],
    reading: Sort,
    state: str,
    cursor: tuple | None,
    segments: Segments,
) -> list[QuerySet[Endpoint]]:
    """The range(s) of ``state`` in the state sort, from the cursor on.

    Within one state the sort is by ICCID, so the cursor is an ICCID bound in
    its own state, and a state before the cursor's is not read at all (state
    names are lower-case ASCII: every collation orders them as Python does).
    Under "inactive for" (``_inactive_parts``), the never-seen rows are read
    along ``endpoint_acct_state_activity``, where (state, NULL) is one range in
    ICCID order; the rows seen before the cutoff are walked along
    ``endpoint_acct_state``."""
    if cursor is not None:
        value, iccid = cursor
        if state == value:
            one_state = one_state.filter(_after(Sort("", "", None, reading.iccid), None, iccid))
        elif (state < value) != reading.key.descending:
            return []
    if segments.inactive_before is None:
        return [one_state.order_by(*reading.index_order_by())]
    never, before = _inactive_parts(one_state, segments, (state,))
    # (state, last_activity DESC NULLS LAST, iccid) forwards, or backwards.
    activity = Key(
        "last_activity",
        descending=not reading.iccid.descending,
        nulls_first=reading.iccid.descending,
        nullable=True,
    )
    never = never.order_by(reading.key.order_by(), activity.order_by(), reading.iccid.order_by())
    return [never, before.order_by(*reading.index_order_by())]


def _keys_first(branch: QuerySet[Endpoint], names: list[str], limit: int):
    """The first ``limit`` rows of ``branch`` (ordered as its index range),
    found by their ICCIDs first: ``WHERE iccid IN (SELECT iccid ... ORDER BY
    ... LIMIT n)``.

    Selecting the ICCID alone lets PostgreSQL answer the filter from an index
    that holds every filtered column, without reading the table: a group, a
    state and a tag is an index-only scan of ``endpoint_group_state_tags`` in
    ICCID order (0.2 ms at 1M), where the whole row made it walk the ICCID
    index and filter 30,000 rows for 101 (20 ms), its estimate not knowing
    that a group's ICCIDs cluster. The page's rows are then 101 lookups by
    ICCID. The subquery comes compiled by Django with its parameters, spliced
    as SQL (as the group ranges are) so that its table is not renamed and the
    cursor's conditions, written against the table's name, stay its own."""
    keys = branch.values("iccid")[:limit]
    sql, params = keys.query.sql_with_params()
    within = RawSQL(f"{_col('iccid')} IN ({sql})", params, output_field=BooleanField())
    ordered = Endpoint.objects.filter(within).order_by(*branch.query.order_by)
    return ordered.values_list(*names)[:limit]


def _index_ranges(
    endpoints: QuerySet[Endpoint],
    reading: Sort,
    cursor: tuple | None,
    limit: int,
    columns: Sequence[str],
    segments: Segments | None = None,
    any_state: QuerySet[Endpoint] | None = None,
    keys_first: bool = False,
) -> list[ListRow]:
    """Up to ``limit`` rows in ``reading`` order from the cursor on, read along the
    ordering's index: one range, two joined by ``UNION ALL``, or one range per
    state (``_merged_states``) or per part of "inactive for"
    (``_inactive_parts``) merged by an outer ``ORDER BY ... LIMIT``; with
    ``keys_first``, each range's ICCIDs before its rows (``_keys_first``)."""
    names = list(dict.fromkeys(["id", *columns]))
    states = _merged_states(reading, segments, cursor)
    since = segments.inactive_before if segments is not None else None
    merged = True
    if states:
        branches = []
        for state in states:
            one_state = (endpoints if any_state is None else any_state).filter(state=state)
            one_state = one_state.filter(segments.holding_state(state))
            if reading.key.column == "state":
                branches += _by_state_ranges(one_state, reading, state, cursor, segments)
            else:
                branches += _segment_ranges(one_state, reading, cursor, since)
        if not branches:
            return []
    elif since is not None and (reading.key is None or reading.key.column != "last_activity"):
        parts = _inactive_parts(endpoints, segments, segments.states)
        branches = [b for part in parts for b in _segment_ranges(part, reading, cursor)]
    else:
        branches = _segment_ranges(endpoints, reading, cursor, since)
        merged = False
    if keys_first:
        limited = [_keys_first(branch, names, limit) for branch in branches]
    else:
        limited = [branch.values_list(*names)[:limit] for branch in branches]
    if len(limited) == 1:
        return [ListRow(**dict(zip(names, values, strict=True))) for values in limited[0]]
    combined = limited[0].union(*limited[1:], all=True)
    if merged:
        # Every range returns up to ``limit`` rows of its own; the page is the
        # first ``limit`` of them all, a top-N sort of a few hundred rows.
        combined = combined.order_by(*reading.index_order_by())
    # Otherwise the outer LIMIT stops PostgreSQL's Append, which reads its
    # branches in order, as soon as the first range has filled the page: the
    # second range is only read on the page that crosses into it.
    rows = [ListRow(**dict(zip(names, values, strict=True))) for values in combined[:limit]]
    return _python_order(reading, rows)


# --- the group sort ----------------------------------------------------------------

# The ranges of the groups after the page's first one, joined laterally to each
# id of the unnested array in turn; the endpoints' own filters come compiled by
# Django, with their parameters.
_GROUP_RANGES_SQL = """
    SELECT "page".*
      FROM unnest(%s::bigint[]) WITH ORDINALITY AS "g" ("id", "rank")
     CROSS JOIN LATERAL ({range}) AS "page"
     ORDER BY "g"."rank", "page"."iccid" {direction}
     LIMIT %s
"""


@dataclass(frozen=True)
class Segments:
    """What the filters and the kept counts can say about a filtered list: the
    account and the states it is filtered by (none: any state). A group's
    range, a state's, or the ungrouped one, is read only if the counts hold an
    endpoint of it in those states; any further filter only narrows what such a
    range holds. The states and the "inactive for" cutoff also decide which
    ranges a page is read from (``_merged_states``)."""

    account_id: int
    #: The kept counts' table (usage's StateCount), named by the caller: the
    #: domain reads it here by name and imports no feature app.
    counts_table: str
    states: tuple[str, ...] = ()
    #: The group filter, if any.
    group_id: int | None = None
    #: The cutoff of the "inactive for" filter, if any (the filter's own,
    #: ``EndpointFilterSet.inactive_before``): the rows active before it are
    #: one index range, which the filter's ``OR`` hides from the planner.
    inactive_before: dt.datetime | None = None

    def any_match(self) -> RawSQL | None:
        """For a list filtered by state or group: whether the kept counts hold
        any endpoint in them; None when neither filter is given. Pending SIMs
        in a group that has none walked a whole sort index (1-3 s) looking for
        the first of them; this is checked once, before any range is read."""
        if self.group_id is not None:
            return self.holding(str(int(self.group_id)))
        if self.states:
            return RawSQL(*self._counted("TRUE"), output_field=BooleanField())
        return None

    def _counted(self, group_test: str) -> tuple[str, tuple]:
        # The counts are spread over stripes (one may be below zero): their
        # sum says whether any endpoint is there.
        sql = (
            f"(SELECT COALESCE(SUM(sc.count), 0) FROM"
            f" {connection.ops.quote_name(self.counts_table)} sc"
            " WHERE sc.account_id = %s"
            f" AND {group_test}"
        )
        params: tuple = (self.account_id,)
        if self.states:
            sql += " AND sc.state = ANY(%s)"
            params += (list(self.states),)
        return sql + ") > 0", params

    def holding_state(self, state: str) -> RawSQL:
        """True when the kept counts hold an endpoint in ``state`` (and in the
        filtered group): a state's range is skipped, not walked, when empty."""
        group_test = "TRUE" if self.group_id is None else f"sc.group_id = {int(self.group_id)}"
        sql, params = replace(self, states=(state,))._counted(group_test)
        return RawSQL(sql, params, output_field=BooleanField())

    def holding(self, group_sql: str) -> RawSQL:
        """True when the segment ``group_sql`` (a group id expression, or
        ``NULL`` for no group) may hold a match; it reads no endpoint, so
        PostgreSQL evaluates it once per segment, before the range."""
        group_test = "IS NULL" if group_sql == "NULL" else f"= {group_sql}"
        sql, params = self._counted(f"sc.group_id {group_test}")
        return RawSQL(sql, params, output_field=BooleanField())


def rank_groups(groups: Sequence[Group]) -> list[Group]:
    """The groups in the order the group sort shows them: by name, in code-point
    order (the same in every database collation), then by id."""
    return sorted(groups, key=lambda g: (g.name, g.pk))


def _groups_from(reading: Sort, ranked: list[Group], position: tuple | None) -> list[Group]:
    """The groups at or after ``position`` (a cursor's (name, id)) in reading order."""
    if reading.key.descending:
        return [g for g in reversed(ranked) if position is None or (g.name, g.pk) <= position]
    return [g for g in ranked if position is None or (g.name, g.pk) >= position]


def _later_groups_sql(
    endpoints: QuerySet[Endpoint],
    reading: Sort,
    group_ids: list[int],
    limit: int,
    segments: Segments | None,
) -> tuple[str, tuple]:
    one_range = endpoints.filter(
        primary_group_id=RawSQL('"g"."id"', (), output_field=BigIntegerField())
    )
    if segments is not None:
        one_range = one_range.filter(segments.holding('"g"."id"'))
    one_range = one_range.order_by(reading.iccid.order_by())[:limit]
    range_sql, range_params = one_range.query.sql_with_params()
    direction = "DESC" if reading.iccid.descending else "ASC"
    # Django compiles the filters with positional placeholders, so the values
    # around them are positional too, in the order they appear in the SQL.
    return _GROUP_RANGES_SQL.format(range=range_sql, direction=direction), (
        group_ids,
        *range_params,
        limit,
    )


def _group_ranges(
    endpoints: QuerySet[Endpoint],
    reading: Sort,
    ranked: list[Group],
    cursor: tuple | None,
    limit: int,
    segments: Segments | None = None,
) -> list[ListRow]:
    """Up to ``limit`` rows in the group sort's ``reading`` order, in one query of
    up to three ranges: the page's first group (from the cursor's ICCID), the
    groups after it (``_GROUP_RANGES_SQL``), and the endpoints without a group,
    which come after every group upwards and before them downwards.

    The first group is a range of its own so that PostgreSQL plans it knowing the
    group: the lateral join is planned once for an average group, and for a state
    filter it then reads a 300,000-endpoint group through ``endpoint_group_state_tags``
    and sorts (75 ms) instead of walking the ICCIDs (0.5 ms). Only a page that
    crosses into the next groups pays that."""
    descending = reading.key.descending
    ungrouped = endpoints.filter(primary_group__isnull=True)
    if segments is not None:
        ungrouped = ungrouped.filter(segments.holding("NULL"))
    value, iccid = cursor or (None, None)
    if cursor is not None and value is None:
        # In the ungrouped segment: upwards nothing follows it, downwards every group.
        ungrouped = ungrouped.filter(_after(reading, None, iccid))
        groups, iccid = (_groups_from(reading, ranked, None) if descending else []), None
    else:
        groups = _groups_from(reading, ranked, value)
        if cursor is not None and descending:
            ungrouped = None  # read before the groups, so passed already
        if groups and (groups[0].name, groups[0].pk) != value:
            iccid = None  # the cursor's group is gone: the next one is read whole
    branches = []
    if groups:
        first = endpoints.filter(primary_group_id=groups[0].pk)
        if segments is not None:
            first = first.filter(segments.holding(str(int(groups[0].pk))))
        if iccid is not None:
            first = first.filter(_after(reading, None, iccid))
        branches.append(first.order_by(*reading.index_order_by())[:limit].query.sql_with_params())
    if len(groups) > 1:
        later = [g.pk for g in groups[1:]]
        branches.append(_later_groups_sql(endpoints, reading, later, limit, segments))
    if ungrouped is not None:
        ungrouped_sql = ungrouped.order_by(*reading.index_order_by())[:limit]
        branches.insert(0 if descending else len(branches), ungrouped_sql.query.sql_with_params())
    if not branches:
        return []
    sql, params = branches[0]
    if len(branches) > 1:
        # As in _index_ranges: the outer LIMIT stops the Append after the branches
        # that fill the page.
        sql = " UNION ALL ".join(f"({branch_sql})" for branch_sql, _ in branches) + " LIMIT %s"
        params = (*(p for _, branch_params in branches for p in branch_params), limit)
    with connections[endpoints.db].cursor() as db:
        db.execute(sql, params)
        names = [column.name for column in db.description]
        rows = [ListRow(**dict(zip(names, values, strict=True))) for values in db.fetchall()]
    rank = {group.pk: n for n, group in enumerate(ranked)}
    # No group sorts after every group; the UNION ALL leaves the order open.
    return sorted(
        rows, key=lambda r: (rank.get(r.primary_group_id, len(rank)), r.iccid), reverse=descending
    )


class ListRow(SimpleNamespace):
    """One endpoint of a page: the columns read, as attributes (what the table,
    the cursors and the API read of it), and ``pk``. Not a model instance:
    building ``Endpoint`` objects from a deferred-column queryset cost more
    than reading the rows (docs/benchmark.md, "Issue #26")."""

    @property
    def pk(self) -> int:
        return self.id


@dataclass
class Page:
    rows: list[ListRow]
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
    groups: Sequence[Group],
    after: tuple | None = None,
    before: tuple | None = None,
    columns: Sequence[str] = LIST_COLUMNS,
    segments: Segments | None = None,
    any_state: QuerySet[Endpoint] | None = None,
    keys_first: bool = False,
) -> Page:
    """One page of ``endpoints`` in ``sort``, after or before a decoded cursor, in
    one query of at most ``per_page + 1`` rows per index range read. ``groups``
    are the account's groups (the group sort orders by their names); ``columns``
    what is read of each row (the sort's and cursor's columns among them);
    ``segments`` lets the group sort skip groups the kept counts say hold no
    match; ``any_state``, the same endpoints filtered by all but the states
    (``EndpointFilterSet.qs_any_state``), is what ranges read one state at a
    time are read from; ``keys_first`` finds a page's ICCIDs before its rows
    (``_keys_first``; the API's list)."""
    reading = sort.reversed() if before else sort
    cursor = before or after
    guards = []
    matching = segments.any_match() if segments is not None else None
    if matching is not None:
        guards.append(matching)
    if segments is not None and segments.inactive_before is not None:
        # Nothing inactive in the filtered states (say, active SIMs inactive
        # for 30 days): the page is empty before any range is walked, the group
        # sort's included (state=active&inactive=30&sort=group: 886 ms).
        (_, any_never_seen), (_, any_seen_before) = _inactive_probes(segments, segments.states)
        guards.append(any_never_seen | any_seen_before)
    endpoints = endpoints.only(*columns).filter(*guards)
    if any_state is not None:
        any_state = any_state.only(*columns).filter(*guards)
    if sort.by_group_name:
        ranked = rank_groups(groups)
        rows = _group_ranges(endpoints, reading, ranked, cursor, per_page + 1, segments)
    else:
        rows = _index_ranges(
            endpoints, reading, cursor, per_page + 1, columns, segments, any_state, keys_first
        )
    more = len(rows) > per_page
    rows = rows[:per_page]
    if before:
        rows.reverse()
        page = Page(rows, sort, has_next=bool(rows), has_prev=more)
    else:
        page = Page(rows, sort, has_next=more, has_prev=cursor is not None)
    group_names = {group.pk: group.name for group in groups}
    if rows and page.has_next:
        page.next_cursor = encode_cursor(sort, rows[-1], group_names)
    if rows and page.has_prev:
        page.prev_cursor = encode_cursor(sort, rows[0], group_names)
    return page


def bounded_count(
    endpoints: QuerySet[Endpoint], inactive_before: dt.datetime | None = None
) -> tuple[int, bool]:
    """(count, more): the exact count up to ``COUNT_LIMIT``, and whether there are
    more. One ``SELECT count(*) FROM (SELECT FROM ... LIMIT 1001)``: no column
    of the row is selected (not even the id), so an index that holds the
    filtered columns answers it without reading the table
    (``endpoint_group_state_tags``). Under "inactive for" (``inactive_before``,
    the filter's cutoff) the rows seen before it and those never seen are
    counted as two ranges of ``endpoint_acct_activity``: the filter's ``OR``
    made PostgreSQL walk the 470,000 recent entries first (30-50 ms)."""
    if inactive_before is None:
        parts = [endpoints]
    else:
        parts = [
            endpoints.filter(last_activity__lt=inactive_before),
            endpoints.filter(last_activity__isnull=True),
        ]
    limited = [
        part.order_by().annotate(one=Value(1)).values("one")[: COUNT_LIMIT + 1] for part in parts
    ]
    if len(limited) > 1:
        limited = [limited[0].union(*limited[1:], all=True)[: COUNT_LIMIT + 1]]
    counted = limited[0].count()
    return min(counted, COUNT_LIMIT), counted > COUNT_LIMIT
