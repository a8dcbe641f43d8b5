"""``POST /api/v1/activations``: a SIM from stock becomes a Pending endpoint of
the token's account, through the portal's rule (``inventory.activation``;
docs/activation.md). An unknown ICCID, a wrong code and a claimed SIM give one
and the same 422; the token's 10th failure in an hour blocks it for an hour
(429 with Retry-After)."""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from django.utils import timezone
from ninja import Router, Status

from api.permissions import actor, require
from api.problems import ProblemError
from api.representations import endpoints_out
from api.responses import answers
from api.schemas.activations import ActivationIn
from api.schemas.endpoints import EndpointOut
from inventory import activation_codes
from inventory.activation import ActivationRefused, activate, clean_iccid_typed, who_for_token
from inventory.selectors import account_groups
from portal.client_ip import client_ip
from portal.models import Permission

router = Router(tags=["activations"])


@router.post(
    "",
    response=answers({201: EndpointOut}, 403, 409),
    summary="Activate a SIM",
    operation_id="activate_sim",
)
def activate_sim(request, body: ActivationIn):
    """Claim a stock SIM by its ICCID and activation code: it becomes a Pending
    endpoint of the account, with its IMSIs and an "activated" History row."""
    require(request, Permission.OPERATE)
    # The shape of each field first (not counted: it tells nothing about stock).
    errors = []
    for field, check, value in (
        ("body.iccid", clean_iccid_typed, body.iccid),
        ("body.activation_code", activation_codes.clean_code, body.activation_code),
    ):
        try:
            check(value)
        except ValidationError as exc:
            errors.append({"field": field, "message": exc.messages[0]})
    if errors:
        raise ProblemError(
            422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )
    try:
        endpoint = activate(
            account=request.account,
            actor=actor(request),
            iccid=body.iccid,
            code=body.activation_code,
            ip=client_ip(request),
            who=who_for_token(request.auth),
        )
    except ActivationRefused as refused:
        if refused.blocked_until and not refused.counted:
            wait = max(1, math.ceil((refused.blocked_until - timezone.now()).total_seconds()))
            raise ProblemError(429, refused.message, headers={"Retry-After": str(wait)}) from None
        raise ProblemError(422, refused.message) from None
    return Status(201, endpoints_out([endpoint], account_groups(request.account))[0])
