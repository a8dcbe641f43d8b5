"""The shapes of endpoints, their history and their edits in the customer API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from api.schemas.common import Body
from inventory.models import AllocationKind, State
from inventory.pagination import SORTS

#: An ICCID in a path: anything else is a 422, never a lookup.
ICCID_PATTERN = r"^[0-9]{19,20}$"
SortName = Literal[tuple(SORTS)]  # type: ignore[valid-type]
StateName = Literal[tuple(State.values)]  # type: ignore[valid-type]


class ImeiLock(Schema):
    enabled: bool
    imei: str = Field(description="15-digit IMEI or 16-digit IMEISV; empty when none is set.")


class IpAddress(Schema):
    group: str
    address: str
    kind: Literal[tuple(AllocationKind.values)]  # type: ignore[valid-type]


class EndpointOut(Schema):
    iccid: str
    imsis: list[str]
    name: str
    reference: str
    tags: list[str]
    state: StateName
    primary_group: str | None
    secondary_groups: list[str]
    imei_lock: ImeiLock
    ip_addresses: list[IpAddress]
    last_activity: datetime | None
    state_changed_at: datetime
    created_at: datetime


class EndpointPage(Schema):
    results: list[EndpointOut]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class ImeiLockPatch(Body):
    enabled: bool | None = None
    imei: str | None = Field(None, max_length=40)


class EndpointPatch(Body):
    """Only the fields sent change; the rules and messages are the edit screen's."""

    name: str | None = Field(None, max_length=100)
    reference: str | None = Field(None, max_length=100)
    tags: list[str] | None = Field(None, max_length=100)
    imei_lock: ImeiLockPatch | None = None
    secondary_groups: list[str] | None = Field(
        None, max_length=100, description="Names of the account's groups (multi-APN)."
    )
    static_ips: dict[str, str | None] | None = Field(
        None,
        description=(
            'Group name → static IPv4 address in that group\'s VSlice, or null (or "") for '
            "an automatic one. Groups left out keep what they have."
        ),
    )


class HistoryEntry(Schema):
    at: datetime
    actor_kind: str
    actor: str
    action: str
    from_state: str
    to_state: str
    changes: dict
    reason: str
    batch: str | None


class HistoryPage(Schema):
    results: list[HistoryEntry]
    next: str | None
