"""The webhooks that receive the account events (docs/webhooks.md), and where
their delivery stands.

The events themselves are the ``events`` app's (``events.models.AccountEvent``,
written by ``events.outbox``). Their ``seq`` is given after commit, in commit
order, by ``webhooks.delivery.sequence`` under the account's ``EventCounter``
row; deliveries follow ``seq``. ``lane`` spreads the account's endpoints over
``LANES`` lanes: a webhook delivers its lanes side by side, each lane strictly
in order, so per endpoint the order is kept.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from events.models import AccountEvent, EventType
from portal.models import Account

#: The types a webhook may subscribe to; ``webhook.test`` is sent on request only.
SUBSCRIBABLE = [choice for choice in EventType if choice != EventType.TEST]


class EventCounter(models.Model):
    """The last ``seq`` given in an account; its row lock serialises numbering."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.account_id}: {self.last_seq}"


class Webhook(models.Model):
    """An HTTPS endpoint of the customer's that receives the account's events."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField("URL", max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    event_types = ArrayField(models.CharField(max_length=40, choices=EventType.choices))
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    disabled_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    secret_rotated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["account", "enabled"], name="webhook_account_enabled")]

    def __str__(self) -> str:
        return self.url

    def type_labels(self) -> list[str]:
        return [EventType(value).label for value in self.event_types if value in EventType.values]


class Lane(models.Model):
    """Where one lane of a webhook stands: the last ``seq`` delivered, and its
    retry state. Locked while the lane delivers, so a lane is never delivered
    by two workers at once."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="lanes")
    number = models.SmallIntegerField()
    cursor = models.BigIntegerField(default=0)
    failures = models.IntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "number"], name="lane_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id}/{self.number}"


class AttemptKind(models.TextChoices):
    DELIVERY = "delivery", "Delivery"
    TEST = "test", "Test event"
    REDELIVERY = "redelivery", "Redelivery"


class Attempt(models.Model):
    """One HTTP request to a webhook: the delivery log."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="attempts")
    event = models.ForeignKey(AccountEvent, on_delete=models.CASCADE, related_name="attempts")
    kind = models.CharField(max_length=12, choices=AttemptKind.choices)
    at = models.DateTimeField(default=timezone.now)
    status_code = models.IntegerField(null=True, blank=True)
    latency_ms = models.IntegerField(default=0)
    ok = models.BooleanField(default=False)
    #: A class of ``webhooks.errors.ErrorClass`` ("" when ok), never the peer's bytes.
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["webhook", "-id"], name="attempt_webhook_recent"),
            models.Index(fields=["at"], name="attempt_at"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event_id} {self.status_code or self.error}"

    @property
    def error_label(self) -> str:
        """What the delivery log shows for the error (its class's label)."""
        from webhooks import errors

        return errors.label(self.error)
