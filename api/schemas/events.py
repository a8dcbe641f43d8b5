"""The shape of the account event log in the customer API (``GET /api/v1/events``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from events.models import EventType

EventTypeName = Literal[tuple(EventType.values)]  # type: ignore[valid-type]


class AccountEventOut(Schema):
    id: int
    type: EventTypeName
    iccid: str | None
    created_at: datetime
    data: dict = Field(description="The payload webhooks receive as data (docs/webhooks.md).")


class AccountEventPage(Schema):
    results: list[AccountEventOut]
    next: str | None
