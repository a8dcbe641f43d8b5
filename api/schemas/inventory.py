"""Groups and network events in the customer API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema

from inventory.models import EventStatus, EventType


class GroupOut(Schema):
    name: str
    vslice: str
    subnet: str
    apn: str
    created_at: datetime


class NetworkEventOut(Schema):
    id: int
    event_id: str
    type: Literal[tuple(EventType.values)]  # type: ignore[valid-type]
    status: Literal[tuple(EventStatus.values)]  # type: ignore[valid-type]
    reason: str
    iccid: str | None
    imsi: str
    imei: str
    apn: str
    group: str | None
    ip: str | None
    at: datetime
    received_at: datetime


class NetworkEventPage(Schema):
    results: list[NetworkEventOut]
    next: str | None
