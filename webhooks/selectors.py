"""Account-scoped reads of webhooks, shared by the portal and the API."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from portal.models import Account
from webhooks.models import AccountEvent, Attempt, Webhook

LOG_SIZE = 50


def account_webhooks(*, account: Account) -> QuerySet[Webhook]:
    return Webhook.objects.filter(account=account).order_by("pk")


def webhook_for(*, account: Account, pk: int) -> Webhook:
    """The account's webhook ``pk``; another account's is a 404."""
    return get_object_or_404(Webhook, account=account, pk=pk)


def delivery_log(*, webhook: Webhook, before: int | None = None) -> list[Attempt]:
    """The webhook's latest attempts, newest first (one query)."""
    attempts = Attempt.objects.filter(webhook=webhook).select_related("event").order_by("-pk")
    if before:
        attempts = attempts.filter(pk__lt=before)
    return list(attempts[:LOG_SIZE])


def account_events(*, account: Account, filters: dict) -> QuerySet[AccountEvent]:
    """The account's event log (every event of the last 30 days) matching
    ``filters`` (cleaned ``ActivityFilterForm`` data: type, endpoint_id, start,
    end, cursor), newest first by (created_at, id): the order of the indexes
    ``accountevent_log*``."""
    events = AccountEvent.objects.filter(account=account)
    if filters.get("type"):
        events = events.filter(type=filters["type"])
    if filters.get("endpoint_id") is not None:
        events = events.filter(endpoint_id=filters["endpoint_id"])
    if filters.get("start"):
        events = events.filter(created_at__gte=filters["start"])
    if filters.get("end"):
        events = events.filter(created_at__lte=filters["end"])
    if filters.get("cursor"):
        at, pk = filters["cursor"]
        events = events.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    return events.order_by("-created_at", "-pk")
