"""Lifecycle actions: on one endpoint (``/endpoints/{iccid}/assign|suspend|
terminate``) and on many (``/bulk/assign|suspend|terminate``), each a job of
``jobs.services.start`` like the portal's, through the same lifecycle rules.

One endpoint's action runs at once and answers with what it did, or 409 when
the lifecycle does not allow it (nothing is changed then). A bulk action
answers 202 with its job and ``Location`` of the job: up to 1,000 endpoints
it has already run, more run on a worker. Terminating by filter asks for
``confirm_count``, the number the filter matches, as the portal asks to type it.
"""

from __future__ import annotations

from typing import Annotated

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Path, Router, Status

from api import listing
from api.permissions import actor, require
from api.problems import ProblemError, field_error
from api.representations import job_out
from api.responses import answers
from api.schemas.endpoints import ICCID_PATTERN
from api.schemas.jobs import ActionIn, ActionResult, AssignIn, BulkIn, JobOut
from inventory import lifecycle
from inventory.models import Endpoint, Group
from inventory.selectors import account_groups
from jobs import services
from portal.models import Permission

router = Router(tags=["actions"])

Iccid = Annotated[str, Path(pattern=ICCID_PATTERN, description="The endpoint's ICCID.")]
_ENDPOINTS = connection.ops.quote_name(Endpoint._meta.db_table)
#: At most this many unknown ICCIDs are named in a 422.
_NAMED_UNKNOWN = 10
_PERMISSION = {
    lifecycle.ASSIGN: Permission.OPERATE,
    lifecycle.SUSPEND: Permission.OPERATE,
    lifecycle.TERMINATE: Permission.TERMINATE,
    lifecycle.RESET: Permission.OPERATE,
}


def _group(groups: list[Group], name: str | None, field: str) -> Group:
    for group in groups:
        if group.name == name:
            return group
    if not name:
        raise field_error(field, "Choose the group to assign the endpoints to.")
    raise field_error(field, "That group is not one of this account's groups.")


def _single(request, iccid: str, action: str, *, group: Group | None, reason: str) -> dict:
    require(request, _PERMISSION[action])
    endpoints = Endpoint.objects.filter(account=request.account, iccid=iccid)
    get_object_or_404(endpoints.only("id"))
    preview = lifecycle.preview(action=action, endpoints=endpoints, group=group)
    if not preview.will_change:
        raise ProblemError(409, f"Nothing changed: {preview.summary()}.")
    job = services.start(
        account=request.account,
        actor=actor(request),
        action=action,
        endpoints=endpoints,
        group=group,
        reason=reason,
        request=request,
    )
    result = job.result()
    return {
        "changed": result.changed,
        "skipped": result.skipped,
        "summary": result.summary(),
        "job": job_out(job),
    }


_SINGLE = answers({200: ActionResult}, 403, 404, 409)


@router.post(
    "/endpoints/{iccid}/assign",
    response=_SINGLE,
    summary="Assign an endpoint to a group",
    operation_id="assign_endpoint",
)
def assign_endpoint(request, iccid: Iccid, body: AssignIn):
    require(request, Permission.OPERATE)
    group = _group(account_groups(request.account), body.group, "body.group")
    return _single(request, iccid, lifecycle.ASSIGN, group=group, reason=body.reason)


@router.post(
    "/endpoints/{iccid}/suspend",
    response=_SINGLE,
    summary="Suspend an endpoint",
    operation_id="suspend_endpoint",
)
def suspend_endpoint(request, iccid: Iccid, body: ActionIn):
    return _single(request, iccid, lifecycle.SUSPEND, group=None, reason=body.reason)


@router.post(
    "/endpoints/{iccid}/terminate",
    response=_SINGLE,
    summary="Terminate an endpoint",
    operation_id="terminate_endpoint",
)
def terminate_endpoint(request, iccid: Iccid, body: ActionIn):
    return _single(request, iccid, lifecycle.TERMINATE, group=None, reason=body.reason)


@router.post(
    "/endpoints/{iccid}/reset",
    response=_SINGLE,
    summary="Reset an endpoint's connectivity",
    operation_id="reset_endpoint",
)
def reset_endpoint(request, iccid: Iccid, body: ActionIn):
    """End the endpoint's data session at the packet core (RADIUS
    Disconnect-Request and the disconnects feed) so that the device connects
    again; 409 for an endpoint not in service."""
    return _single(request, iccid, lifecycle.RESET, group=None, reason=body.reason)


def _by_iccids(request, iccids: list[str]) -> QuerySet[Endpoint]:
    """The account's endpoints with these ICCIDs, or a 422 naming the unknown
    ones (another account's ICCID is unknown here, like a made-up one)."""
    wanted = list(dict.fromkeys(iccids))
    # One array parameter, not one per ICCID: 100,000 of them would pass the
    # protocol's limit of 65,535 parameters per statement.
    match = RawSQL(f"{_ENDPOINTS}.iccid = ANY(%s::text[])", (wanted,), output_field=BooleanField())
    endpoints = Endpoint.objects.filter(account=request.account).alias(m=match).filter(m=True)
    found = set(endpoints.values_list("iccid", flat=True))
    unknown = [(i, iccid) for i, iccid in enumerate(iccids) if iccid not in found]
    if unknown:
        errors = [
            {"field": f"body.iccids.{i}", "message": "No endpoint with this ICCID in this account."}
            for i, _ in unknown[:_NAMED_UNKNOWN]
        ]
        raise ProblemError(
            422,
            f"{len(unknown):,} of the ICCIDs are not endpoints of this account "
            f"(first: {unknown[0][1][:20]}); nothing was changed.",
            errors=errors,
        )
    return endpoints


def _bulk(request, response: HttpResponse, action: str, body: BulkIn) -> tuple[int, dict]:
    require(request, _PERMISSION[action])
    groups = account_groups(request.account)
    group = _group(groups, body.group, "body.group") if action == lifecycle.ASSIGN else None
    if body.iccids is not None:
        endpoints = _by_iccids(request, body.iccids)
    else:
        chosen = body.filter
        data = listing.filter_data(
            groups=groups,
            state=chosen.state,
            group=chosen.group,
            tag=chosen.tag,
            kv=chosen.kv,
            q=chosen.q,
        )
        endpoints = listing.filtered(
            account=request.account, groups=groups, data=data, location="body.filter"
        )
        if action == lifecycle.TERMINATE:
            matched = endpoints.count()
            if body.confirm_count is None:
                raise field_error(
                    "body.confirm_count",
                    f"Terminating by filter needs confirm_count: the filter matches {matched:,}.",
                )
            if body.confirm_count != matched:
                raise ProblemError(
                    409,
                    f"The filter matches {matched:,} endpoints, not {body.confirm_count:,}; "
                    "nothing was changed.",
                )
    job = services.start(
        account=request.account,
        actor=actor(request),
        action=action,
        endpoints=endpoints,
        group=group,
        reason=body.reason,
        request=request,
    )
    response["Location"] = reverse("customer_api:get_job", kwargs={"job_id": job.pk})
    return Status(202, job_out(job))


_BULK = answers({202: JobOut}, 403, 409)


@router.post("/bulk/assign", response=_BULK, summary="Assign many", operation_id="bulk_assign")
def bulk_assign(request, response: HttpResponse, body: BulkIn):
    return _bulk(request, response, lifecycle.ASSIGN, body)


@router.post("/bulk/suspend", response=_BULK, summary="Suspend many", operation_id="bulk_suspend")
def bulk_suspend(request, response: HttpResponse, body: BulkIn):
    return _bulk(request, response, lifecycle.SUSPEND, body)


@router.post("/bulk/reset", response=_BULK, summary="Reset many", operation_id="bulk_reset")
def bulk_reset(request, response: HttpResponse, body: BulkIn):
    """Reset the connectivity of many endpoints, as a job."""
    return _bulk(request, response, lifecycle.RESET, body)


@router.post(
    "/bulk/terminate", response=_BULK, summary="Terminate many", operation_id="bulk_terminate"
)
def bulk_terminate(request, response: HttpResponse, body: BulkIn):
    return _bulk(request, response, lifecycle.TERMINATE, body)
