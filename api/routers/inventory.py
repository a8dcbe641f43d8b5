"""``/api/v1/groups`` and ``/api/v1/network-events``: the account's groups
(listed, and managed by admin tokens with the Groups page's rules,
``inventory.groups``) and what the packet core reported about its endpoints,
as on the Groups and Network events pages (the same filters, the same keyset
order)."""

from __future__ import annotations

from typing import Annotated, Literal

from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router, Status

from api.list_query import CursorQuery, FromQuery, IccidQuery, ToQuery, filter_data
from api.permissions import actor, require
from api.problems import ProblemError, field_error, query_refused
from api.representations import group_out
from api.responses import answers
from api.schemas.inventory import GroupIn, GroupOut, GroupPatch, NetworkEventPage
from inventory.forms.events import EventFilterForm
from inventory.groups import (
    GroupRefused,
    GroupSettings,
    create_group,
    delete_group,
    policy_countries,
    policy_plmns,
    update_group,
)
from inventory.models import EventStatus, EventType, Group, OperatorPolicy, VSlice
from inventory.selectors import filtered_events
from portal.client_ip import client_ip
from portal.models import Role
from portal.time_cursor import newest_first_page

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


def _settings(request, body, group: Group | None) -> GroupSettings:
    """The group's settings with ``body`` applied (a PATCH keeps what it omits)."""
    sent = body.model_dump(exclude_unset=True)
    if "\x00" in "".join(v for v in sent.values() if isinstance(v, str)):
        raise field_error("name", "No NUL characters.")
    vslice = group.vslice if group else None
    if sent.get("vslice") is not None:
        vslice = VSlice.objects.filter(account=request.account, name=sent["vslice"]).first()
        if vslice is None:
            raise field_error("vslice", "Not one of this account's VSlices.")
    for key in (
        "name",
        "apn",
        "warning_percent",
        "suspend_at_limit",
        "operator_policy",
        "policy_countries",
        "policy_plmns",
    ):
        if key in sent and sent[key] is None:
            raise field_error(key, "May not be null.")
    current = {
        "name": group.name if group else None,
        "apn": group.apn if group else None,
        "data_allowance_mb": group.data_allowance_mb if group else None,
        "warning_percent": group.warning_percent if group else 80,
        "suspend_at_limit": group.suspend_at_limit if group else False,
        "operator_policy": group.operator_policy if group else OperatorPolicy.ANY.value,
        "policy_countries": tuple(group.policy_countries) if group else (),
        "policy_plmns": tuple(group.policy_plmns) if group else (),
    }
    current.update({k: v for k, v in sent.items() if k != "vslice"})
    try:
        current["policy_countries"] = policy_countries(current["policy_countries"])
        current["policy_plmns"] = policy_plmns(current["policy_plmns"])
    except GroupRefused as refusal:
        raise _refusal(refusal) from refusal
    return GroupSettings(vslice=vslice, **current)


def _refusal(refusal: GroupRefused) -> ProblemError:
    if refusal.conflict:
        return ProblemError(409, str(refusal))
    return field_error(refusal.field or "body", str(refusal))


def _account_group(request, name: str) -> Group:
    groups = Group.objects.filter(account=request.account).select_related("vslice")
    return get_object_or_404(groups.order_by("pk"), name=name)


@groups_router.post(
    "",
    response=answers({201: GroupOut}, 403, 409),
    summary="Create a group",
    operation_id="create_group",
)
def create_group_op(request, body: GroupIn):
    """Account admins: a group of one of the account's VSlices."""
    require(request, Role.ADMIN)
    try:
        group = create_group(
            account=request.account,
            settings=_settings(request, body, None),
            actor=actor(request),
            ip=client_ip(request),
        )
    except GroupRefused as refusal:
        raise _refusal(refusal) from refusal
    return Status(201, group_out(_account_group(request, group.name)))


@groups_router.patch(
    "/{name}",
    response=answers({200: GroupOut}, 403, 404, 409),
    summary="Change a group",
    operation_id="edit_group",
)
def edit_group(request, name: Annotated[str, Path(max_length=100)], body: GroupPatch):
    """Account admins; applies at once to the group's endpoints (History of each)."""
    require(request, Role.ADMIN)
    group = _account_group(request, name)
    settings = _settings(request, body, group)
    try:
        update_group(group=group, settings=settings, actor=actor(request), ip=client_ip(request))
    except GroupRefused as refusal:
        raise _refusal(refusal) from refusal
    return group_out(_account_group(request, settings.name))


@groups_router.delete(
    "/{name}",
    response=answers({204: None}, 403, 404, 409),
    summary="Delete an empty group",
    operation_id="delete_group",
)
def delete_group_op(request, name: Annotated[str, Path(max_length=100)]):
    """Account admins; only a group no endpoint uses."""
    require(request, Role.ADMIN)
    group = _account_group(request, name)
    try:
        delete_group(group=group, actor=actor(request), ip=client_ip(request))
    except GroupRefused as refusal:
        raise _refusal(refusal) from refusal
    return Status(204, None)


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
    endpoint: IccidQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: CursorQuery = None,
):
    """Newest first, kept 30 days; pass ``next`` back as ``cursor``."""
    data = filter_data(
        type=type, status=status, endpoint=endpoint, start=start, end=end, cursor=cursor
    )
    form = EventFilterForm(data)
    if not form.is_valid():
        raise query_refused(form, {"start": "from", "end": "to"})
    events, next_cursor = newest_first_page(
        filtered_events(account=request.account, filters=form.cleaned_data).select_related(
            "endpoint", "group"
        ),
        limit=limit,
        field="at",
    )
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
                "plmn": event.plmn,
                "rat": event.rat,
                "at": event.at,
                "received_at": event.received_at,
            }
            for event in events
        ],
        "next": next_cursor,
    }
