"""Account events (the transactional outbox) and the webhooks that receive them
(docs/webhooks.md).

An ``AccountEvent`` is written in the same transaction as the change it reports,
set-based for bulk work, and only when an enabled webhook of the account wants
its type. Its ``seq`` is given after commit, in commit order, by
``webhooks.delivery.sequence``; deliveries follow ``seq``. ``lane`` spreads the
account's endpoints over ``LANES`` lanes: a webhook delivers its lanes side by
side, each lane strictly in order, so per endpoint the order is kept.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F
from django.db.models.functions import Cast, Coalesce, Mod
from django.utils import timezone

from portal.models import Account

#: Lanes per webhook. Part of the schema (``AccountEvent.lane`` is computed by
#: the database), so changing it needs a migration.
LANES = 16


class EventType(models.TextChoices):
    """Every account event, as webhooks receive it in ``type``."""

    STATE_CHANGED = "endpoint.state_changed", "Endpoint state changed"
    UPDATED = "endpoint.updated", "Endpoint updated"
    SESSION_STARTED = "endpoint.session_started", "Data session started"
    SESSION_ENDED = "endpoint.session_ended", "Data session ended"
    SESSION_REJECTED = "endpoint.session_rejected", "Data session rejected"
    NETWORK_CHANGED = "endpoint.network_changed", "Serving network changed"
    IMEI_CHANGED = "endpoint.imei_changed", "Device (IMEI) changed"
    CONNECTIVITY_RESET = "endpoint.connectivity_reset", "Connectivity reset"
    USAGE_WARNING = "endpoint.usage_warning", "Usage warning"
    KEY_VALUES_CHANGED = "endpoint.key_values_changed", "Key values changed"
    JOB_FINISHED = "job.finished", "Bulk job finished"
    TEST = "webhook.test", "Test event"


#: The types a webhook may subscribe to; ``webhook.test`` is sent on request only.
SUBSCRIBABLE = [choice for choice in EventType if choice != EventType.TEST]


class AccountEvent(models.Model):
    """One thing that happened in an account: its event log (30 days) and what
    its webhooks receive. ``payload`` is the ``data`` of the delivered body,
    versioned (``"version": 1``)."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    endpoint_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    seq = models.BigIntegerField(null=True, blank=True)
    lane = models.GeneratedField(
        expression=Cast(Mod(Coalesce("endpoint_id", 0), LANES), models.SmallIntegerField()),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        indexes = [
            # What a lane reads: the account's events after its cursor.
            models.Index(fields=["account", "lane", "seq"], name="accountevent_lane_seq"),
            # What the sequencer reads: the account's events without a seq yet.
            models.Index(
                fields=["account", "id"],
                name="accountevent_unsequenced",
                condition=models.Q(seq__isnull=True),
            ),
            models.Index(fields=["created_at"], name="accountevent_created"),
            # The event log (/inventory/activity/, GET /api/v1/events), newest
            # first by keyset on (created_at, id): all types, one type, one endpoint.
            models.Index(
                F("account"), F("created_at").desc(), F("id").desc(), name="accountevent_log"
            ),
            models.Index(
                F("account"),
                F("type"),
                F("created_at").desc(),
                F("id").desc(),
                name="accountevent_log_type",
            ),
            models.Index(
                F("endpoint_id"),
                F("created_at").desc(),
                F("id").desc(),
                name="accountevent_log_endpoint",
                condition=models.Q(endpoint_id__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "seq"], name="accountevent_unique_seq"),
            models.CheckConstraint(
                condition=models.Q(type__in=EventType.values), name="accountevent_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header: the same for every attempt of this event."""
        return f"evt_{self.pk}"


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
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["webhook", "-id"], name="attempt_webhook_recent"),
            models.Index(fields=["at"], name="attempt_at"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event_id} {self.status_code or self.error}"
