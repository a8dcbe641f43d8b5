"""``/api/v1/endpoints``: list, detail, edit and history of the account's
endpoints (docs/api.md). Every read starts from the token's account."""

from __future__ import annotations

from typing import Annotated

from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router

import audit
from api import edits, listing
from api.fast_json import json_response
from api.permissions import actor, audit_actor, require
from api.problems import ProblemError, field_error
from api.representations import ENDPOINT_COLUMNS, endpoints_out
from api.responses import answers
from api.schemas.connectivity import ConnectivityOut
from api.schemas.endpoints import (
    ICCID_PATTERN,
    EndpointOut,
    EndpointPage,
    EndpointPatch,
    HistoryPage,
    SortName,
    StateName,
)
from audit.models import AuditAction
from inventory.editing import TERMINATED_MESSAGE, EditRefused, apply_edit
from inventory.identifiers import MAX_KEY_LENGTH, MAX_VALUE_LENGTH
from inventory.key_values import KeyValuesRefused, change_key_values
from inventory.models import Endpoint, History, State
from inventory.search import MAX_LENGTH as MAX_SEARCH_LENGTH
from inventory.selectors import account_groups, endpoint_with_groups
from network.connectivity import ConnectivityReport, connectivity_of
from portal.models import Permission
from portal.time_cursor import newest_first_page, older_than, parse_time_cursor

router = Router(tags=["endpoints"])

MAX_LIMIT = 1_000
Iccid = Annotated[str, Path(pattern=ICCID_PATTERN, description="The endpoint's ICCID.")]


@router.get(
    "",
    response=answers({200: EndpointPage}),
    summary="List endpoints",
    operation_id="list_endpoints",
)
def list_endpoints(
    request,
    state: Annotated[list[StateName], Query(description="Repeat for several states.")] = None,
    group: Annotated[str | None, Query(max_length=100, description="A group name.")] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    kv: Annotated[
        str | None,
        Query(
            max_length=MAX_KEY_LENGTH + 1 + MAX_VALUE_LENGTH,
            description="A key value, key:value (exact match).",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_SEARCH_LENGTH,
            description="ICCID (full or last digits), IMSI, name or reference.",
        ),
    ] = None,
    sort: Annotated[SortName, Query()] = "iccid",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
):
    """The account's endpoints, filtered, searched and sorted as in the portal's
    list, a keyset page at a time: pass ``next`` back as ``cursor``."""
    groups = account_groups(request.account)
    data = listing.filter_data(groups=groups, state=state, group=group, tag=tag, kv=kv, q=q)
    filterset = listing.filter_set(account=request.account, groups=groups, data=data)
    page = listing.page(
        endpoints=filterset.qs,
        any_state=filterset.qs_any_state,
        groups=groups,
        sort_name=sort,
        limit=limit,
        cursor=cursor,
        columns=ENDPOINT_COLUMNS,
        segments=listing.segments(account=request.account, data=data),
    )
    return json_response({"results": endpoints_out(page.rows, groups), "next": page.next_cursor})


def _one(request, iccid: str) -> dict:
    groups = account_groups(request.account)
    endpoint = get_object_or_404(
        Endpoint.objects.filter(account=request.account).only(*ENDPOINT_COLUMNS), iccid=iccid
    )
    return endpoints_out([endpoint], groups)[0]


@router.get(
    "/{iccid}",
    response=answers({200: EndpointOut}, 404),
    summary="Get an endpoint",
    operation_id="get_endpoint",
)
def get_endpoint(request, iccid: Iccid):
    return json_response(_one(request, iccid))


@router.patch(
    "/{iccid}",
    response=answers({200: EndpointOut}, 403, 404, 409),
    summary="Edit an endpoint",
    operation_id="edit_endpoint",
)
def edit_endpoint(request, iccid: Iccid, body: EndpointPatch):
    """Name, reference, tags, IMEI lock, secondary groups, static addresses and
    key values, with the edit screen's and the Key Values tab's rules and
    messages; one History row per change. All of it is saved or none."""
    require(request, Permission.OPERATE)
    endpoint = endpoint_with_groups(request.account, iccid)
    if endpoint.state == State.TERMINATED:
        raise ProblemError(409, TERMINATED_MESSAGE)
    form, names = edits.edit_form(
        endpoint=endpoint, patch=body, account_groups=account_groups(request.account)
    )
    edits.check(form, names)
    replace = body.key_values_mode == "replace"
    if replace and body.key_values and None in body.key_values.values():
        raise field_error(
            "body.key_values", "null removes a key when merging; leave the key out to replace."
        )
    with transaction.atomic():
        try:
            apply_edit(endpoint=endpoint, edit=form.to_edit(), actor=actor(request))
        except EditRefused as exc:
            raise edits.refused(exc, names) from exc
        if body.key_values is not None:
            try:
                change_key_values(
                    endpoint=endpoint,
                    actor=actor(request),
                    pairs=body.key_values,
                    replace=replace,
                )
            except KeyValuesRefused as exc:
                errors = [{"field": "body.key_values", "message": m} for m in exc.messages]
                raise ProblemError(
                    422, "; ".join(f"body.key_values: {m}" for m in exc.messages), errors=errors
                ) from exc
        audit.record(
            action=AuditAction.ENDPOINT_EDITED,
            account=request.account,
            request=request,
            actor=audit_actor(request),
            target=endpoint.iccid,
            details={"fields": sorted(body.model_dump(exclude_unset=True))},
        )
    return _one(request, iccid)


@router.get(
    "/{iccid}/connectivity",
    response=answers({200: ConnectivityOut}, 404),
    summary="An endpoint's connectivity",
    operation_id="endpoint_connectivity",
)
def endpoint_connectivity(request, iccid: Iccid):
    """Online, attached or offline; where (operator, country, RAT); the current
    or last session; the last IMEI and refusal; and the sentence saying why it
    is offline, with the record it rests on (the portal's Connectivity card)."""
    endpoint = get_object_or_404(
        Endpoint.objects.filter(account=request.account).only(
            "id", "state", "state_changed_at", "last_activity"
        ),
        iccid=iccid,
    )
    return connectivity_json(connectivity_of(endpoint))


def _network_json(found) -> dict | None:
    if found is None:
        return None
    return {
        "plmn": found.plmn,
        "operator": found.operator,
        "country": found.country_code,
        "country_name": found.country,
    }


def connectivity_json(report: ConnectivityReport) -> dict:
    session, refusal, evidence = report.session, report.refusal, report.evidence
    return {
        "status": report.status,
        "since": report.since,
        "rule": report.rule,
        "sentence": report.sentence,
        "evidence": evidence and {"kind": evidence.kind, "id": evidence.id, "at": evidence.at},
        "session": session
        and {
            "started_at": session.started_at,
            "ended_at": session.ended_at,
            "ip": session.ip,
            "apn": session.apn,
            "bytes_up": session.bytes_up,
            "bytes_down": session.bytes_down,
        },
        "network": _network_json(report.network),
        "rat": report.rat,
        "network_seen_at": report.network_seen_at,
        "last_imei": report.imei,
        "last_refusal": refusal
        and {
            "reason": refusal.reason,
            "words": refusal.words,
            "at": refusal.at,
            "network_event_id": refusal.event_id,
            "imei": refusal.imei,
            "network": _network_json(refusal.network),
        },
    }


def _after_history(cursor: str) -> Q:
    after = parse_time_cursor(cursor)
    if after is None:
        raise ProblemError(
            422,
            "query.cursor: not a cursor of this history; start again without it.",
            errors=[{"field": "query.cursor", "message": "Not a cursor of this history."}],
        )
    return older_than(after, field="at")


@router.get(
    "/{iccid}/history",
    response=answers({200: HistoryPage}, 404),
    summary="An endpoint's history",
    operation_id="endpoint_history",
)
def endpoint_history(
    request,
    iccid: Iccid,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
):
    """Newest first; every change with who made it and what it changed."""
    endpoint = get_object_or_404(
        Endpoint.objects.filter(account=request.account).only("id"), iccid=iccid
    )
    entries = History.objects.filter(account=request.account, endpoint=endpoint)
    if cursor:
        entries = entries.filter(_after_history(cursor))
    # The order of the index history_endpoint_at (endpoint, at DESC, id DESC).
    rows, next_cursor = newest_first_page(entries.order_by("-at", "-pk"), limit=limit, field="at")
    return {
        "results": [
            {
                "at": row.at,
                "actor_kind": row.actor_kind,
                "actor": row.actor_label,
                "action": row.action,
                "from_state": row.from_state,
                "to_state": row.to_state,
                "changes": row.changes,
                "reason": row.reason,
                "batch": str(row.batch) if row.batch else None,
            }
            for row in rows
        ],
        "next": next_cursor,
    }
