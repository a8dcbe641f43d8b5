"""Reads of the account event log, shared by Inventory → Activity and
``GET /api/v1/events`` (docs/connectivity.md "Event log")."""

from __future__ import annotations

from django.db.models import QuerySet

from events.models import AccountEvent
from portal.models import Account
from portal.time_cursor import older_than


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
        events = events.filter(older_than(filters["cursor"], field="created_at"))
    return events.order_by("-created_at", "-pk")
