"""``/api/v1/groups`` and ``/api/v1/network-events``: the account's groups and
what the packet core reported about its endpoints, as on the Groups and
Network events pages (the same filters, the same keyset order)."""

from __future__ import annotations

from typing import Annotated, Literal

from django.http import QueryDict
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router

from api.problems import ProblemError
from api.representations import group_out
from api.responses import answers
from api.schemas.endpoints import ICCID_PATTERN
from api.schemas.inventory import GroupOut, NetworkEventPage
from inventory.forms.events import EventFilterForm
from inventory.models import EventStatus, EventType, Group
from inventory.views.events import cursor_for, filtered_events

groups_router = Router(tags=["groups"])
events_router = Router(tags=["network events"])

MAX_LIMIT = 1_000


@groups_router.get(
    "", response=answers({200: list[GroupOut]}), summary="List groups", operation_id="list_groups"
)
def list_groups(request):
    """Every group of the account, by name."""
    groups = Group.objects.filter(account=request.account).select_related("vslice")
    return [group_out(group) for group in groups.order_by("name", "pk")]


@groups_router.get(
    "/{name}",
    response=answers({200: GroupOut}, 404),
    summary="Get a group",
    operation_id="get_group",
)
def get_group(request, name: Annotated[str, Path(max_length=100)]):
    groups = Group.objects.filter(account=request.account).select_related("vslice")
    return group_out(get_object_or_404(groups.order_by("pk"), name=name))


@events_router.get(
    "",
    response=answers({200: NetworkEventPage}),
    summary="List network events",
    operation_id="list_network_events",
)
def list_network_events(
    request,
    type: Annotated[Literal[tuple(EventType.values)] | None, Query()] = None,  # type: ignore[valid-type]
    status: Annotated[Literal[tuple(EventStatus.values)] | None, Query()] = None,  # type: ignore[valid-type]
    endpoint: Annotated[str | None, Query(pattern=ICCID_PATTERN, description="An ICCID.")] = None,
    start: Annotated[
        str | None, Query(alias="from", max_length=40, description="ISO 8601 date and time.")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", max_length=40, description="ISO 8601 date and time.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
):
    """Newest first, kept 30 days; pass ``next`` back as ``cursor``."""
    data = QueryDict(mutable=True)
    for key, value in (
        ("type", type),
        ("status", status),
        ("endpoint", endpoint),
        ("start", start),
        ("end", end),
        ("cursor", cursor),
    ):
        if value:
            data[key] = value
    form = EventFilterForm(data)
    if not form.is_valid():
        names = {"start": "from", "end": "to"}
        errors = [
            {"field": f"query.{names.get(field, field)}", "message": str(message)}
            for field, messages in form.errors.items()
            for message in messages
        ]
        raise ProblemError(
            422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )
    events = list(
        filtered_events(account=request.account, filters=form.cleaned_data).select_related(
            "endpoint", "group"
        )[: limit + 1]
    )
    more = len(events) > limit
    events = events[:limit]
    return {
        "results": [
            {
                "id": event.pk,
                "event_id": event.event_id,
                "type": event.type,
                "status": event.status,
                "reason": event.reason,
                "iccid": event.endpoint.iccid if event.endpoint_id else None,
                "imsi": event.imsi,
                "imei": event.imei,
                "apn": event.apn,
                "group": event.group.name if event.group_id else None,
                "ip": event.ip,
                "at": event.at,
                "received_at": event.received_at,
            }
            for event in events
        ],
        "next": cursor_for(events[-1]) if more and events else None,
    }
