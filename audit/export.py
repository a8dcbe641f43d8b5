"""CSV export of the audit log: every matching row, newest first, read in
keyset chunks of ``CHUNK_SIZE`` (each an index range like a page of the log,
never a sort of the whole log, never the whole log in memory) and written out
as they come. Cells a spreadsheet would read as a formula are neutralised as in
the endpoint export."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator

from audit.models import AuditAction, AuditActorKind, AuditEvent
from portal.csv_cells import neutralise

HEADER = ("id", "time", "event", "actor_kind", "actor", "ip", "target", "details")
CHUNK_SIZE = 2000

#: ``page(before, limit)``: the newest ``limit`` matching rows after the row
#: ``before`` (an id) in the log's order.
Page = Callable[[int | None, int], Iterable[AuditEvent]]


class _Line:
    def write(self, value: str) -> str:
        return value


def _events(page: Page) -> Iterator[AuditEvent]:
    before = None
    while True:
        chunk = list(page(before, CHUNK_SIZE))
        yield from chunk
        if len(chunk) < CHUNK_SIZE:
            return
        before = chunk[-1].pk


def stream(*, page: Page) -> Iterator[str]:
    """The CSV text, one line at a time (header first); ``page(before, limit)``
    gives each next chunk (``audit.selectors.account_events``)."""
    writer = csv.writer(_Line())
    yield writer.writerow(HEADER)
    for event in _events(page):
        yield writer.writerow(
            (
                event.pk,
                event.created_at.isoformat(),
                AuditAction(event.action).label,
                AuditActorKind(event.actor_kind).label,
                neutralise(event.actor_label),
                event.ip or "",
                neutralise(event.target),
                neutralise(json.dumps(event.details, sort_keys=True)) if event.details else "",
            )
        )
