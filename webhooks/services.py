"""What an account admin may do with the account's webhooks, for the portal
(and the customer API) alike: add, change, delete, rotate the secret, send a
test event, redeliver an event (docs/webhooks.md).

Every URL is normalised and checked (``ssrf.normalise``, ``ssrf.check``) before
it is saved, here and only here: the portal's form and the API pass the URL as
it was typed, so both accept and refuse the same URLs and save the same spelling.
A new webhook starts with the events after it was added; re-enabling a disabled one starts again
from new events (what happened meanwhile is in the account's History, not
replayed).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

import audit
from audit.models import AuditAction
from events import outbox
from events.models import AccountEvent, EventType
from portal.models import Account
from webhooks import delivery, ssrf
from webhooks.models import SUBSCRIBABLE, AttemptKind, Lane, Webhook

MAX_WEBHOOKS = 20


class AlreadyQueued(Exception):
    """A test event (or a redelivery) of this webhook is already waiting to be
    sent: one at a time, so that clicking or calling again and again cannot
    fill the delivery queue. The message is for the user."""


def new_secret() -> str:
    """A signing secret as the Standard Webhooks spec spells it: ``whsec_`` and
    24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class WebhookSpec:
    """What the admin asked for."""

    url: str
    event_types: Collection[str]
    description: str = ""
    enabled: bool = True


def _validated(spec: WebhookSpec) -> tuple[str, list[str]]:
    """The URL as it is saved and the event types, or a ``ValidationError``
    naming each bad field."""
    errors: dict[str, list[str]] = {}
    url = spec.url
    try:
        url = ssrf.normalise(spec.url)
        ssrf.check(url)
    except ssrf.UnsafeURL as exc:
        errors["url"] = [str(exc)]
    types = [t for t in SUBSCRIBABLE if t.value in set(spec.event_types)]
    if not types or len(types) != len(set(spec.event_types)):
        errors["event_types"] = ["Choose one or more of the event types listed."]
    if len(spec.description) > 200:
        errors["description"] = ["At most 200 characters."]
    if errors:
        raise ValidationError(errors)
    return url, [t.value for t in types]


def _audit(action: AuditAction, webhook: Webhook, request, actor, details: dict) -> None:
    """The audit row of a change to ``webhook``, in the change's transaction (a
    portal user by ``request``, an API token by ``actor``)."""
    audit.record(
        action=action,
        account=webhook.account,
        request=request,
        actor=actor,
        target=webhook.url,
        details={"webhook": webhook.pk, **details},
    )


def create_webhook(*, account: Account, spec: WebhookSpec, request=None, actor=None) -> Webhook:
    """Add a webhook; its secret is in ``.secret`` (show it once)."""
    url, types = _validated(spec)
    with transaction.atomic():
        if Webhook.objects.filter(account=account).count() >= MAX_WEBHOOKS:
            raise ValidationError({"url": [f"An account has at most {MAX_WEBHOOKS} webhooks."]})
        webhook = Webhook.objects.create(
            account=account,
            url=url,
            description=spec.description,
            event_types=types,
            enabled=spec.enabled,
            secret=new_secret(),
        )
        delivery.ensure_lanes(webhook, cursor=delivery.head(account_id=account.pk))
        _audit(
            AuditAction.WEBHOOK_CREATED,
            webhook,
            request,
            actor,
            {"event_types": types, "enabled": spec.enabled},
        )
    return webhook


def update_webhook(*, webhook: Webhook, spec: WebhookSpec, request=None, actor=None) -> Webhook:
    url, types = _validated(spec)
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
        before = {
            "url": webhook.url,
            "description": webhook.description,
            "event_types": list(webhook.event_types),
            "enabled": webhook.enabled,
        }
        enabling = spec.enabled and not webhook.enabled
        webhook.url = url
        webhook.description = spec.description
        webhook.event_types = types
        webhook.enabled = spec.enabled
        if enabling:
            webhook.disabled_reason = ""
            Lane.objects.filter(webhook=webhook).update(
                cursor=delivery.head(account_id=webhook.account_id),
                failures=0,
                failing_since=None,
                next_attempt_at=None,
            )
        webhook.save()
        after = {
            "url": webhook.url,
            "description": webhook.description,
            "event_types": list(webhook.event_types),
            "enabled": webhook.enabled,
        }
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if changes:
            _audit(AuditAction.WEBHOOK_CHANGED, webhook, request, actor, {"changes": changes})
    return webhook


def rotate_secret(*, webhook: Webhook, request=None, actor=None) -> Webhook:
    """A new secret at once; the old one signs nothing more."""
    with transaction.atomic():
        webhook.secret = new_secret()
        webhook.secret_rotated_at = timezone.now()
        webhook.save(update_fields=["secret", "secret_rotated_at"])
        _audit(AuditAction.WEBHOOK_CHANGED, webhook, request, actor, {"secret": "rotated"})
    return webhook


def delete_webhook(*, webhook: Webhook, request=None, actor=None) -> None:
    with transaction.atomic():
        _audit(AuditAction.WEBHOOK_DELETED, webhook, request, actor, {})
        webhook.delete()


def _send_once(webhook: Webhook, event: AccountEvent, kind: AttemptKind, what: str) -> None:
    """Queue one attempt outside the lanes, at most one of each kind waiting
    per webhook (``AlreadyQueued`` otherwise)."""
    from procrastinate.exceptions import AlreadyEnqueued

    from webhooks import tasks

    try:
        with transaction.atomic():
            tasks.send_once.configure(queueing_lock=f"webhook-{webhook.pk}-{kind}").defer(
                webhook_id=webhook.pk, event_id=event.pk, kind=kind
            )
    except AlreadyEnqueued as exc:
        raise AlreadyQueued(
            f"{what} of this webhook is already waiting to be sent; "
            "try again once its attempt is in the delivery log."
        ) from exc


def send_test(*, webhook: Webhook, request=None, actor=None) -> AccountEvent:
    """Queue a ``webhook.test`` event to this webhook alone (an audit row by
    ``request``'s user or the API token ``actor``); ``AlreadyQueued`` (and
    nothing written) when one is waiting already."""
    with transaction.atomic():
        event = AccountEvent.objects.create(
            account_id=webhook.account_id,
            type=EventType.TEST,
            payload={
                "version": outbox.VERSION,
                "webhook": {"id": webhook.pk, "url": webhook.url},
                "message": "A test event sent from the portal.",
            },
        )
        _send_once(webhook, event, AttemptKind.TEST, "A test event")
        _audit(AuditAction.WEBHOOK_TESTED, webhook, request, actor, {"event": event.webhook_id})
    return event


def redeliver(*, webhook: Webhook, event_id: int, request=None, actor=None) -> AccountEvent:
    """Queue one more attempt of an event this webhook was sent (one in its
    delivery log), outside the lanes' order. Any other event, another
    account's included, is an ``AccountEvent.DoesNotExist``; ``AlreadyQueued``
    when a redelivery of this webhook is waiting already."""
    event = (
        AccountEvent.objects.filter(
            pk=event_id, account_id=webhook.account_id, attempts__webhook=webhook
        )
        .distinct()
        .get()
    )
    with transaction.atomic():
        _send_once(webhook, event, AttemptKind.REDELIVERY, "A redelivery")
        _audit(
            AuditAction.WEBHOOK_REDELIVERED, webhook, request, actor, {"event": event.webhook_id}
        )
    return event
