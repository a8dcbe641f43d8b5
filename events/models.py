"""The account event log (docs/webhooks.md): what happened in an account, one
row per event, with its payload frozen when it is written.

An ``AccountEvent`` is written in the same transaction as the change it reports
(``events.outbox``), set-based for bulk work, whether or not a subscriber (the
account's webhooks) wants its type: the account's event log lists every event
of the last 30 days (/inventory/activity/, ``GET /api/v1/events``). The app
sits below the domain: it knows accounts and nothing of endpoints, jobs or
webhooks, so every rule may write an event without importing a feature app.
The table keeps the name it was created with (``webhooks_accountevent``): the
model moved here without moving a row.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import F
from django.db.models.functions import Cast, Coalesce, Mod
from django.utils import timezone

from portal.models import Account

#: Lanes per webhook. Part of the schema (``AccountEvent.lane`` is computed by
#: the database), so changing it needs a migration.
LANES = 16

#: The ``seq`` of an event that no subscriber wanted when it was written: it is
#: in the event log and is never numbered nor delivered. Written as such, it
#: stays out of the delivery's indexes (``accountevent_unsequenced``,
#: ``accountevent_lane_numbered``, ``accountevent_unique_seq``: all partial), which
#: is most of what storing every event would otherwise cost a writer. Numbered
#: events start at 1.
NOT_WANTED = 0


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


class AccountEvent(models.Model):
    """One thing that happened in an account: its event log (30 days) and what
    its webhooks receive. ``payload`` is the ``data`` of the delivered body,
    versioned (``"version": 1``)."""

    id = models.BigAutoField(primary_key=True)
    # No database constraint: its deferred check is a query per event at
    # COMMIT, one for each endpoint a bulk action or network batch changes
    # (inventory.models.History says more).
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    type = models.CharField(max_length=40, choices=EventType.choices)
    endpoint_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    #: None: waiting to be numbered (``webhooks.delivery.sequence``); 1, 2, ...:
    #: the account's delivery order; ``NOT_WANTED``: never delivered.
    seq = models.BigIntegerField(null=True, blank=True)
    lane = models.GeneratedField(
        expression=Cast(Mod(Coalesce("endpoint_id", 0), LANES), models.SmallIntegerField()),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        db_table = "webhooks_accountevent"
        indexes = [
            # What a lane reads: the account's numbered events after its cursor.
            models.Index(
                fields=["account", "lane", "seq"],
                name="accountevent_lane_numbered",
                condition=models.Q(seq__gt=NOT_WANTED),
            ),
            # What the sequencer reads: the account's events without a seq yet.
            models.Index(
                fields=["account", "id"],
                name="accountevent_unsequenced",
                condition=models.Q(seq__isnull=True),
            ),
            # What the daily purge reads (created_at < 30 days ago). The rows
            # come in about the order of created_at, so a BRIN's block ranges
            # find them; a btree would cost every insert an entry for a
            # statement run once a day.
            BrinIndex(fields=["created_at"], name="accountevent_created_brin"),
            # The event log (/inventory/activity/, GET /api/v1/events), newest
            # first by keyset on (created_at, id): all types and one type (the
            # type, a key column, is checked in the index, no row is read for
            # another type; one index instead of one per filter, which each
            # insert would pay); one endpoint.
            models.Index(
                F("account"),
                F("created_at").desc(),
                F("id").desc(),
                F("type"),
                name="accountevent_log_time",
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
            models.UniqueConstraint(
                fields=["account", "seq"],
                name="accountevent_unique_seq",
                condition=models.Q(seq__gt=NOT_WANTED),
            ),
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
