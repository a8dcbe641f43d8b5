"""Reads of the account event log, shared by Inventory → Activity and
``GET /api/v1/events`` (docs/connectivity.md "Event log")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

from events.models import AccountEvent
from portal.models import Account

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_for(event: AccountEvent) -> str:
    """The keyset cursor after ``event``: (created_at in microseconds, id)."""
    micros = (event.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{event.pk}"


def account_events(*, account: Account, filters: dict) -> QuerySet[AccountEvent]:
    """The account's event log (every event of the last 30 days) matching
    ``filters`` (cleaned ``ActivityFilterForm`` data: type, endpoint_id, start,
    end, cursor), newest first by (created_at, id): the order of the indexes
    ``accountevent_log*``."""
    events = AccountEvent.objects.filter(account=account)
    if filters.get("type"):
        events = events.filter(type=filters["type"])
    if filters.get("endpoint_id") is not None:
        events = events.filter(endpoint_id=filters["endpoint_id"])
    if filters.get("start"):
        events = events.filter(created_at__gte=filters["start"])
    if filters.get("end"):
        events = events.filter(created_at__lte=filters["end"])
    if filters.get("cursor"):
        at, pk = filters["cursor"]
        events = events.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    return events.order_by("-created_at", "-pk")
