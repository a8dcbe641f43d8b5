"""CSV export of the audit log: every matching row, streamed in chunks through a
server-side cursor (never the whole log in memory). Cells a spreadsheet would
read as a formula are neutralised as in the endpoint export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from audit.models import AuditAction, AuditActorKind, AuditEvent
from inventory.export import neutralise

HEADER = ("id", "time", "event", "actor_kind", "actor", "ip", "target", "details")
CHUNK_SIZE = 2000


class _Line:
    def write(self, value: str) -> str:
        return value


def stream(*, events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The CSV text, one line at a time (header first)."""
    writer = csv.writer(_Line())
    yield writer.writerow(HEADER)
    values = events.values_list(
        "id", "created_at", "action", "actor_kind", "actor_label", "ip", "target", "details"
    )
    for pk, at, action, kind, label, ip, target, details in values.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow(
            (
                pk,
                at.isoformat(),
                AuditAction(action).label,
                AuditActorKind(kind).label,
                neutralise(label),
                ip or "",
                neutralise(target),
                neutralise(json.dumps(details, sort_keys=True)) if details else "",
            )
        )
