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
    key_values: dict[str, str] = Field(
        description="The endpoint's own key/value metadata, by key (docs/key-values.md)."
    )
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
    key_values: dict[str, str | None] | None = Field(
        None,
        description=(
            "Key values. Merged by default: each key sent is set, a key sent as null is "
            'removed, keys not sent stay. With `key_values_mode` "replace" the object sent '
            "becomes the whole set (null not allowed). Keys: 1-64 of a-z 0-9 _ . -; values up "
            "to 1,024 characters; at most 50 per endpoint."
        ),
    )
    key_values_mode: Literal["merge", "replace"] = Field(
        "merge", description="How `key_values` applies: merge (default) or replace."
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
