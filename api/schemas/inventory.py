"""Groups and network events in the customer API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from api.schemas.common import Body
from inventory.models import EventStatus, EventType


class GroupOut(Schema):
    name: str
    vslice: str
    subnet: str
    apn: str
    data_allowance_mb: int | None
    warning_percent: int
    suspend_at_limit: bool
    created_at: datetime


class GroupIn(Body):
    """A new group; ``vslice`` is the name of one of the account's VSlices."""

    name: str = Field(min_length=1, max_length=100)
    vslice: str = Field(min_length=1, max_length=100)
    apn: str = Field(min_length=1, max_length=100)
    data_allowance_mb: int | None = Field(None, ge=1, le=2**31 - 1)
    warning_percent: int = Field(80, ge=1, le=100)
    suspend_at_limit: bool = False


class GroupPatch(Body):
    """Only the fields sent change; ``data_allowance_mb: null`` removes the allowance."""

    name: str | None = Field(None, min_length=1, max_length=100)
    vslice: str | None = Field(None, min_length=1, max_length=100)
    apn: str | None = Field(None, min_length=1, max_length=100)
    data_allowance_mb: int | None = Field(None, ge=1, le=2**31 - 1)
    warning_percent: int | None = Field(None, ge=1, le=100)
    suspend_at_limit: bool | None = None


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
