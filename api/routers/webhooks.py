"""``/api/v1/webhooks``: the account's webhooks, as on Account → Webhooks (admin
tokens only): list, add (the secret is in the answer, once), get, change,
delete, rotate the secret, send a test event. The rules are
``webhooks.services``'s, the same as the portal's."""

from __future__ import annotations

from typing import Annotated

from django.core.exceptions import ValidationError
from django.db import transaction
from ninja import Path, Router, Status

from api.permissions import audit_actor, require
from api.problems import ProblemError
from api.responses import answers
from api.schemas.webhooks import (
    TestEventOut,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookPatch,
    WebhookWithSecret,
)
from portal.models import Role
from webhooks import selectors, services
from webhooks.models import Webhook

router = Router(tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _out(webhook: Webhook, *, secret: bool = False) -> dict:
    data = {
        "id": webhook.pk,
        "url": webhook.url,
        "description": webhook.description,
        "event_types": list(webhook.event_types),
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason,
        "created_at": webhook.created_at,
        "secret_rotated_at": webhook.secret_rotated_at,
    }
    if secret:
        data["secret"] = webhook.secret
    return data


def _refused(error: ValidationError) -> ProblemError:
    errors = [
        {"field": f"body.{field}", "message": message}
        for field, messages in error.message_dict.items()
        for message in messages
    ]
    return ProblemError(422, "; ".join(e["message"] for e in errors), errors=errors)


def _webhook(request, webhook_id: int) -> Webhook:
    require(request, Role.ADMIN)
    return selectors.webhook_for(account=request.account, pk=webhook_id)


@router.get(
    "", response=answers({200: WebhookPage}, 403), summary="List webhooks",
    operation_id="list_webhooks",
)  # fmt: skip
def list_webhooks(request):
    require(request, Role.ADMIN)
    webhooks = selectors.account_webhooks(account=request.account)
    return {"results": [_out(webhook) for webhook in webhooks]}


@router.post(
    "", response=answers({201: WebhookWithSecret}, 403), summary="Add a webhook",
    operation_id="create_webhook",
)  # fmt: skip
def create_webhook(request, body: WebhookIn):
    """The URL must be https:// and its host public; the answer holds the
    signing secret, shown this once."""
    require(request, Role.ADMIN)
    spec = services.WebhookSpec(
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        enabled=body.enabled,
    )
    try:
        webhook = services.create_webhook(
            account=request.account, spec=spec, request=request, actor=audit_actor(request)
        )
    except ValidationError as error:
        raise _refused(error) from error
    return Status(201, _out(webhook, secret=True))


@router.get(
    "/{webhook_id}", response=answers({200: WebhookOut}, 403, 404), summary="Get a webhook",
    operation_id="get_webhook",
)  # fmt: skip
def get_webhook(request, webhook_id: WebhookId):
    return _out(_webhook(request, webhook_id))


@router.patch(
    "/{webhook_id}", response=answers({200: WebhookOut}, 403, 404), summary="Change a webhook",
    operation_id="update_webhook",
)  # fmt: skip
def update_webhook(request, webhook_id: WebhookId, body: WebhookPatch):
    """Fields left out keep their value; enabling a disabled webhook starts it
    again from new events."""
    webhook = _webhook(request, webhook_id)
    spec = services.WebhookSpec(
        url=webhook.url if body.url is None else body.url,
        event_types=webhook.event_types if body.event_types is None else body.event_types,
        description=webhook.description if body.description is None else body.description,
        enabled=webhook.enabled if body.enabled is None else body.enabled,
    )
    try:
        webhook = services.update_webhook(
            webhook=webhook, spec=spec, request=request, actor=audit_actor(request)
        )
    except ValidationError as error:
        raise _refused(error) from error
    return _out(webhook)


@router.delete(
    "/{webhook_id}", response=answers({204: None}, 403, 404), summary="Delete a webhook",
    operation_id="delete_webhook",
)  # fmt: skip
def delete_webhook(request, webhook_id: WebhookId):
    webhook = _webhook(request, webhook_id)
    with transaction.atomic():
        services.delete_webhook(webhook=webhook, request=request, actor=audit_actor(request))
    return Status(204, None)


@router.post(
    "/{webhook_id}/rotate-secret", response=answers({200: WebhookWithSecret}, 403, 404),
    summary="Rotate a webhook's secret", operation_id="rotate_webhook_secret",
)  # fmt: skip
def rotate_webhook_secret(request, webhook_id: WebhookId):
    """A new secret at once (in the answer, this once); the old one signs
    nothing more."""
    webhook = services.rotate_secret(
        webhook=_webhook(request, webhook_id), request=request, actor=audit_actor(request)
    )
    return _out(webhook, secret=True)


@router.post(
    "/{webhook_id}/test", response=answers({202: TestEventOut}, 403, 404, 409),
    summary="Send a test event", operation_id="test_webhook",
)  # fmt: skip
def test_webhook(request, webhook_id: WebhookId):
    """Queues one ``webhook.test`` event to this webhook; its attempt appears
    in the delivery log (not retried). 409 while an earlier test event of the
    webhook is still waiting to be sent (nothing is queued)."""
    try:
        event = services.send_test(
            webhook=_webhook(request, webhook_id), request=request, actor=audit_actor(request)
        )
    except services.AlreadyQueued as error:
        raise ProblemError(409, str(error)) from error
    return Status(202, {"event_id": event.webhook_id})
