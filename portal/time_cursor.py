"""The keyset cursor of the newest-first logs: the account event log, the
network events and an endpoint's history, on the screens and in the API.

A page ends at its last row; the next one starts below (time, id) of that row.
The cursor spells both as "<microseconds since the epoch>-<id>": microseconds
because PostgreSQL keeps them, so the cursor is exact to the stored time, and
the id breaks ties between rows of the same microsecond. Each log orders by its
own time column, so the column is named by the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

from portal.params import ascii_int

#: The cursors count microseconds from here.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def time_cursor(*, at: datetime, pk: int) -> str:
    """The cursor after the row written at ``at`` with id ``pk``."""
    return f"{(at - EPOCH) // timedelta(microseconds=1)}-{pk}"


def parse_time_cursor(text: str) -> tuple[datetime, int] | None:
    """(time, id) that ``text`` spells, or None where it is not a cursor (an
    edited or truncated link, a time outside the years datetime holds)."""
    micros_text, _, pk_text = text.partition("-")
    micros, pk = ascii_int(micros_text), ascii_int(pk_text)
    if micros is None or pk is None:
        return None
    try:
        return EPOCH + timedelta(microseconds=micros), pk
    except OverflowError:
        return None


def older_than(cursor: tuple[datetime, int], *, field: str) -> Q:
    """The rows after ``cursor`` in newest-first (``field``, id) order."""
    at, pk = cursor
    return Q(**{f"{field}__lt": at}) | Q(**{field: at, "pk__lt": pk})


def newest_first_page(queryset: QuerySet, *, limit: int, field: str) -> tuple[list, str | None]:
    """The first ``limit`` rows of ``queryset`` (ordered newest first by
    ``field``, id) and the cursor after the last of them, None when no row
    follows. One query: it reads one row more than it shows."""
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, time_cursor(at=getattr(rows[-1], field), pk=rows[-1].pk)
