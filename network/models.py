"""The RADIUS side of the network app (docs/radius.md): the provider's NAS list,
the accounting state of each RADIUS session, and the Disconnect-Requests owed
to the NASes.

The network events themselves, their History rows and the session teardowns
the lifecycle writes stay in the inventory app: RADIUS feeds the same network
batch as the JSON API, it keeps here only what the protocol itself needs.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from inventory.fields import CidrField
from inventory.models import Endpoint
from portal.models import Account


class RadiusClient(models.Model):
    """A NAS (PGW, GGSN, SMF) allowed to ask us: packets from its network are
    answered with its shared secret; Disconnect-Requests go to its ``coa_port``.

    The secret is kept encrypted (``network.radius.secrets``): it must be usable
    to sign packets, so it cannot be hashed, and it is never shown after it was
    set."""

    name = models.CharField(max_length=100, unique=True)
    address = CidrField(
        unique=True,
        help_text="The NAS's address or network, e.g. 10.0.0.5/32; the most specific match wins.",
    )
    secret_encrypted = models.TextField(editable=False)
    coa_port = models.PositiveIntegerField(
        "CoA/Disconnect port", default=3799, help_text="Where Disconnect-Requests are sent."
    )
    require_message_authenticator = models.BooleanField(
        default=True,
        help_text=(
            "Refuse Access-Requests without a valid Message-Authenticator (the BlastRADIUS "
            "fix). Turn off only for a legacy NAS that cannot send one."
        ),
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "RADIUS client"
        constraints = [
            models.CheckConstraint(
                condition=Q(coa_port__gte=1, coa_port__lte=65535), name="radiusclient_coa_port"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"

    def set_secret(self, secret: str) -> None:
        from network.radius.secrets import encrypt

        self.secret_encrypted = encrypt(secret)

    @property
    def secret(self) -> bytes:
        from network.radius.secrets import decrypt

        return decrypt(self.secret_encrypted).encode()


class RadiusSession(models.Model):
    """One RADIUS session of a NAS (its Acct-Session-Id), with the cumulative
    counters of its last accounting report applied: the next report's usage is
    its growth since then. Also what a Disconnect-Request needs to name it."""

    client = models.ForeignKey(RadiusClient, on_delete=models.CASCADE, db_index=False)
    session_id = models.CharField(max_length=253)
    # No database constraint on these two: the 90-day purge deletes endpoints
    # in plain SQL (inventory/retention.py), and a session row of a purged
    # endpoint is only an ended session's counters.
    account = models.ForeignKey(
        Account,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
    )
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    imsi = models.CharField(max_length=15)
    user_name = models.CharField(max_length=253, blank=True, default="")
    framed_ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    #: Cumulative octets of the last report applied (gigawords included).
    input_octets = models.BigIntegerField(default=0)
    output_octets = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "session_id"], name="radiussession_unique"),
        ]
        indexes = [
            # A teardown finds the open sessions of its endpoints; an
            # Accounting-On/Off the open sessions of its NAS.
            models.Index(
                F("endpoint"), name="radiussession_open_endpoint", condition=Q(ended_at=None)
            ),
            models.Index(F("client"), name="radiussession_open_client", condition=Q(ended_at=None)),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} of {self.imsi}"


class DisconnectState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    ACKED = "acked", "Disconnect-ACK"
    GONE = "gone", "NAK: session not found"
    REFUSED = "refused", "NAK"
    GIVEN_UP = "given_up", "No answer: given up"


class RadiusDisconnect(models.Model):
    """A Disconnect-Request owed to a NAS for one session, made from a session
    teardown the lifecycle wrote (suspend, terminate, move). Sent by the worker
    until it is answered or given up; the outcome goes to History."""

    teardown_id = models.BigIntegerField()
    session = models.ForeignKey(RadiusSession, on_delete=models.CASCADE, db_index=False)
    client = models.ForeignKey(RadiusClient, on_delete=models.CASCADE, db_index=False)
    # Without database constraints, as on RadiusSession.
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, db_index=False, db_constraint=False
    )
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.DO_NOTHING,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )
    reason = models.CharField(max_length=12)
    state = models.CharField(
        max_length=10, choices=DisconnectState.choices, default=DisconnectState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    detail = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["teardown_id", "session"], name="radiusdisconnect_unique"
            ),
        ]
        indexes = [
            models.Index(F("id"), name="radiusdisconnect_pending", condition=Q(state="pending")),
            models.Index(F("endpoint"), name="radiusdisconnect_endpoint"),
            models.Index(F("session"), name="radiusdisconnect_session"),
        ]

    def __str__(self) -> str:
        return f"disconnect {self.session_id} ({self.state})"


class RadiusCursor(models.Model):
    """How far a reader got in an append-only table: the disconnect sender
    in session teardowns (by id)."""

    name = models.CharField(max_length=40, primary_key=True)
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.position}"
