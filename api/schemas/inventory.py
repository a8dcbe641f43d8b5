"""Groups and network events in the customer API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from api.schemas.common import Body
from inventory.groups import MAX_POLICY_ENTRIES
from inventory.models import EventStatus, EventType, OperatorPolicy

PolicyName = Literal[tuple(OperatorPolicy.values)]  # type: ignore[valid-type]
Country = Annotated[str, Field(min_length=2, max_length=2, description="ISO 3166 alpha-2.")]
Plmn = Annotated[str, Field(pattern=r"^[0-9]{5,6}$", description="MCC+MNC.")]


class GroupOut(Schema):
    name: str
    vslice: str
    subnet: str
    apn: str
    data_allowance_mb: int | None
    warning_percent: int
    suspend_at_limit: bool
    operator_policy: PolicyName
    policy_countries: list[str]
    policy_plmns: list[str]
    created_at: datetime


class GroupIn(Body):
    """A new group; ``vslice`` is the name of one of the account's VSlices."""

    name: str = Field(min_length=1, max_length=100)
    vslice: str = Field(min_length=1, max_length=100)
    apn: str = Field(min_length=1, max_length=100)
    data_allowance_mb: int | None = Field(None, ge=1, le=2**31 - 1)
    warning_percent: int = Field(80, ge=1, le=100)
    suspend_at_limit: bool = False
    operator_policy: PolicyName = Field(
        "any", description="any network, allow only the listed, or block the listed"
    )
    policy_countries: list[Country] = Field([], max_length=MAX_POLICY_ENTRIES)
    policy_plmns: list[Plmn] = Field([], max_length=MAX_POLICY_ENTRIES)


class GroupPatch(Body):
    """Only the fields sent change; ``data_allowance_mb: null`` removes the allowance."""

    name: str | None = Field(None, min_length=1, max_length=100)
    vslice: str | None = Field(None, min_length=1, max_length=100)
    apn: str | None = Field(None, min_length=1, max_length=100)
    data_allowance_mb: int | None = Field(None, ge=1, le=2**31 - 1)
    warning_percent: int | None = Field(None, ge=1, le=100)
    suspend_at_limit: bool | None = None
    operator_policy: PolicyName | None = None
    policy_countries: list[Country] | None = Field(None, max_length=MAX_POLICY_ENTRIES)
    policy_plmns: list[Plmn] | None = Field(None, max_length=MAX_POLICY_ENTRIES)


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
    plmn: str
    rat: str
    at: datetime
    received_at: datetime


class NetworkEventPage(Schema):
    results: list[NetworkEventOut]
    next: str | None
