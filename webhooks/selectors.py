"""Account-scoped reads of webhooks, shared by the portal and the API."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.models import Account
from webhooks.models import Attempt, Webhook

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
