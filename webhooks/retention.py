"""How long events and the delivery log are kept: 30 days (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from events.models import AccountEvent
from webhooks.models import Attempt

RETENTION = timedelta(days=30)

_quote = connection.ops.quote_name
_EVENTS = _quote(AccountEvent._meta.db_table)
_ATTEMPTS = _quote(Attempt._meta.db_table)


def purge(*, cutoff: datetime | None = None) -> dict[str, int]:
    """Delete attempts, then events, older than ``cutoff`` (30 days ago); two
    set-based statements, no per-row cascade."""
    cutoff = cutoff or timezone.now() - RETENTION
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {_ATTEMPTS} a WHERE a.at < %(cutoff)s OR a.event_id IN "
            f"(SELECT id FROM {_EVENTS} WHERE created_at < %(cutoff)s)",
            {"cutoff": cutoff},
        )
        attempts = cursor.rowcount
        cursor.execute(f"DELETE FROM {_EVENTS} WHERE created_at < %(cutoff)s", {"cutoff": cutoff})
        events = cursor.rowcount
    return {"events": events, "attempts": attempts}
