"""The shape of ``GET /api/v1/endpoints/{iccid}/connectivity`` (docs/connectivity.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema


class ServingNetwork(Schema):
    plmn: str = Field(description="MCC+MNC, 5 or 6 digits.")
    operator: str = Field(description="Empty when the data library does not know the PLMN.")
    country: str = Field(description="ISO 3166 alpha-2; empty when not known.")
    country_name: str


class SessionOut(Schema):
    started_at: datetime
    ended_at: datetime | None = Field(description="null while the session is open.")
    ip: str | None
    apn: str
    bytes_up: int
    bytes_down: int


class RefusalOut(Schema):
    reason: str = Field(description="The network API's reason code.")
    words: str
    at: datetime
    network_event_id: str
    imei: str
    network: ServingNetwork | None


class EvidenceOut(Schema):
    kind: Literal["history", "network_event"]
    id: str = Field(description="The History row's id or the network event's id.")
    at: datetime


class ConnectivityOut(Schema):
    status: Literal["online", "attached", "offline"]
    since: datetime | None
    rule: str = Field(description="Which rule wrote the sentence (docs/connectivity.md).")
    sentence: str
    evidence: EvidenceOut | None
    session: SessionOut | None
    network: ServingNetwork | None
    rat: str
    network_seen_at: datetime | None
    last_imei: str
    last_refusal: RefusalOut | None
