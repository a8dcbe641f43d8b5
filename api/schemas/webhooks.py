"""Webhooks in the customer API (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema

from api.schemas.common import Body
from webhooks.models import SUBSCRIBABLE

EventTypeName = Literal[tuple(t.value for t in SUBSCRIBABLE)]  # type: ignore[valid-type]
Url = Annotated[str, Field(min_length=1, max_length=2000)]
Description = Annotated[str, Field(max_length=200)]
EventTypes = Annotated[list[EventTypeName], Field(min_length=1, max_length=len(SUBSCRIBABLE))]


class WebhookOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str = Field(description="Why the webhook was disabled, if it was.")
    created_at: datetime
    secret_rotated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="The signing secret (whsec_…): shown this once.")


class WebhookPage(Schema):
    results: list[WebhookOut]


class WebhookIn(Body):
    url: Url
    event_types: EventTypes
    description: Description = ""
    enabled: bool = True


class WebhookPatch(Body):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class TestEventOut(Schema):
    event_id: str = Field(description="The webhook-id header the test delivery carries.")
