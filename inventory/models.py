"""The inventory: VSlices, groups, endpoints with their IMSIs and IP addresses,
and the history of every change.

The database guards the invariants (unique ICCID, IMSI and address per VSlice,
one allocation per endpoint and group, valid states); the rules that move rows
between states live in ``lifecycle.py``, ``addressing.py`` and ``network.py``.
Indexes are chosen for the list screen at a million rows: each sort and filter
has an account-leading composite that ends with the ICCID, the unique
tie-breaker of every ordering.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Reverse, Upper
from django.utils import timezone

from inventory.fields import CidrField
from inventory.identifiers import clean_iccid, clean_imei, clean_imsi
from portal.models import Account, ActorKind


class State(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    IDLE = "idle", "Idle"
    DETACHED = "detached", "Detached"
    SUSPENDED = "suspended", "Suspended"
    TERMINATED = "terminated", "Terminated"


#: Active, Idle and Detached are all "in service": in a group, provisioned.
IN_SERVICE_STATES = (State.ACTIVE, State.IDLE, State.DETACHED)


class Rat(models.TextChoices):
    """Radio access types a network event may report (``rat``)."""

    GSM = "2G", "2G"
    UMTS = "3G", "3G"
    LTE = "4G", "4G"
    NR = "5G", "5G"
    NB_IOT = "NB-IoT", "NB-IoT"
    LTE_M = "LTE-M", "LTE-M"


RAT_VALUES = tuple(Rat.values)


class OperatorPolicy(models.TextChoices):
    """How a group's countries and PLMNs are read (docs/connectivity.md)."""

    ANY = "any", "Any network"
    ALLOW = "allow", "Only the listed countries and networks"
    BLOCK = "block", "Any network except the listed ones"


class VSlice(models.Model):
    """An account's private network slice: addresses are unique within it."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="vslices")
    name = models.CharField(max_length=100)
    subnet = CidrField()
    #: Host offset where the next automatic allocation starts looking, so that a
    #: subnet filled from the front is not rescanned each time (addressing.py).
    alloc_cursor = models.BigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "VSlice"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="vslice_unique_name"),
            models.CheckConstraint(
                condition=Q(alloc_cursor__gte=1), name="vslice_alloc_cursor_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.subnet})"


class Group(models.Model):
    """An Endpoint Group: gives its endpoints a network configuration (VSlice, APN)."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="groups", db_index=False
    )
    vslice = models.ForeignKey(VSlice, on_delete=models.PROTECT, related_name="groups")
    name = models.CharField(max_length=100)
    apn = models.CharField("APN", max_length=100)
    #: Monthly data allowance per endpoint in MB (10^6 bytes); none when blank
    #: (docs/usage.md "Allowance").
    data_allowance_mb = models.PositiveIntegerField("data allowance (MB)", null=True, blank=True)
    #: The share of the allowance that raises a usage warning.
    warning_percent = models.PositiveSmallIntegerField("warning at (%)", default=80)
    #: Suspend an endpoint when it reaches 100 % of the allowance.
    suspend_at_limit = models.BooleanField("suspend at 100 %", default=False)
    #: Operator policy: on which networks a session of this group may start.
    operator_policy = models.CharField(
        max_length=5, choices=OperatorPolicy.choices, default=OperatorPolicy.ANY
    )
    #: ISO 3166 alpha-2 codes, upper case.
    policy_countries = ArrayField(
        models.CharField(max_length=2), blank=True, default=list, verbose_name="countries"
    )
    #: MCC+MNC, 5 or 6 digits.
    policy_plmns = ArrayField(
        models.CharField(max_length=6), blank=True, default=list, verbose_name="networks (PLMN)"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="group_unique_name"),
            models.CheckConstraint(
                condition=Q(warning_percent__gte=1, warning_percent__lte=100),
                name="group_warning_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(data_allowance_mb__isnull=True) | Q(data_allowance_mb__gte=1),
                name="group_allowance_positive",
            ),
            models.CheckConstraint(
                condition=Q(operator_policy__in=OperatorPolicy.values),
                name="group_operator_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Endpoint(models.Model):
    """One device with one SIM (physical or eSIM), identified by its ICCID."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="endpoints", db_index=False
    )
    # The identifier rules are the fields' validators, so that full_clean() and
    # every ModelForm apply them; the check digit is waived only by the staff
    # import (sim_import), which writes by COPY.
    iccid = models.CharField("ICCID", max_length=20, db_collation="C", validators=[clean_iccid])
    name = models.CharField(max_length=100, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="")
    tags = ArrayField(models.CharField(max_length=40), blank=True, default=list)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    primary_group = models.ForeignKey(
        Group,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="primary_endpoints",
        db_index=False,
    )
    secondary_groups = models.ManyToManyField(
        Group, through="SecondaryMembership", related_name="secondary_endpoints", blank=True
    )
    imei_lock_enabled = models.BooleanField("IMEI lock", default=False)
    imei = models.CharField("IMEI", max_length=16, blank=True, default="", validators=[clean_imei])
    last_activity = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    terminated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["iccid"]
        constraints = [
            models.UniqueConstraint(fields=["iccid"], name="endpoint_iccid_unique"),
            models.CheckConstraint(
                condition=Q(state__in=State.values), name="endpoint_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(iccid__regex=r"^89[0-9]{17,18}$"), name="endpoint_iccid_format"
            ),
            models.CheckConstraint(
                condition=Q(state=State.TERMINATED, terminated_at__isnull=False)
                | (~Q(state=State.TERMINATED) & Q(terminated_at__isnull=True)),
                name="endpoint_terminated_at_iff_terminated",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=IN_SERVICE_STATES) | Q(primary_group__isnull=False),
                name="endpoint_in_service_has_group",
            ),
            models.CheckConstraint(
                condition=Q(imei_lock_enabled=False) | Q(imei__regex=r"^[0-9]{15,16}$"),
                name="endpoint_imei_lock_has_imei",
            ),
        ]
        indexes = [
            models.Index(F("account"), F("iccid"), name="endpoint_acct_iccid"),
            models.Index(F("account"), F("state"), F("iccid"), name="endpoint_acct_state"),
            models.Index(F("account"), F("primary_group"), F("iccid"), name="endpoint_acct_group"),
            models.Index(F("account"), F("name"), F("iccid"), name="endpoint_acct_name"),
            models.Index(
                F("account"),
                F("last_activity").desc(nulls_last=True),
                F("iccid"),
                name="endpoint_acct_activity",
            ),
            # A state filter sorted by activity, either way: one range per
            # segment (active, then never active) instead of a walk along
            # endpoint_acct_activity past every other state's rows. Pending
            # SIMs are never active and their range started after 528,000
            # entries (2.2 s); terminated ones went silent long ago (0.9 s).
            # The one index of the table added for a read; its cost to network
            # events is measured in docs/benchmark.md, "Slow reads fixed".
            models.Index(
                F("account"),
                F("state"),
                F("last_activity").desc(nulls_last=True),
                F("iccid"),
                name="endpoint_acct_state_activity",
            ),
            # Group + state in ICCID order, the list's default: a page of both
            # filters is one range, even when nothing matches (pending in a
            # group: 1,962 ms along the ICCID index before). Carries the
            # account and the tags so that their bounded count (+ tag) is an
            # index-only scan (59 → 1.4 ms); same number of indexes as before
            # (docs/benchmark.md).
            models.Index(
                F("primary_group"),
                F("state"),
                F("iccid"),
                name="endpoint_group_state_tags",
                include=["account", "tags"],
            ),
            GinIndex(fields=["tags"], name="endpoint_tags"),
            models.Index(
                F("terminated_at"),
                name="endpoint_terminated_at",
                condition=Q(terminated_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.iccid

    @property
    def in_service(self) -> bool:
        return self.state in IN_SERVICE_STATES


class Connectivity(models.Model):
    """What the network last told about one endpoint (docs/connectivity.md):
    its current or last data session, the serving network, the last IMEI seen
    and the last refused session. Written by the network batch only.

    A table of its own, one row per endpoint that the network has reported,
    rather than columns on ``Endpoint``: it changes with nearly every event,
    and having no index but its key every UPDATE of it can be HOT (no index
    entries written), while the endpoint list keeps reading a narrow table.
    """

    endpoint = models.OneToOneField(
        Endpoint, on_delete=models.CASCADE, primary_key=True, related_name="connectivity"
    )
    #: The data session: started (and ended, NULL while it is open) at.
    session_started_at = models.DateTimeField(null=True, blank=True)
    session_ended_at = models.DateTimeField(null=True, blank=True)
    session_ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    session_apn = models.CharField(max_length=100, blank=True, default="")
    session_bytes_up = models.BigIntegerField(default=0)
    session_bytes_down = models.BigIntegerField(default=0)
    #: The serving network and radio of the last accepted event that named them.
    plmn = models.CharField("PLMN", max_length=6, blank=True, default="")
    rat = models.CharField("RAT", max_length=6, blank=True, default="")
    network_seen_at = models.DateTimeField(null=True, blank=True)
    #: The last IMEI a device presented in an accepted event.
    imei = models.CharField("IMEI", max_length=16, blank=True, default="")
    #: The last refused session start: its reason code, time, event id, and
    #: the IMEI and network it came with.
    refused_at = models.DateTimeField(null=True, blank=True)
    refused_reason = models.CharField(max_length=40, blank=True, default="")
    refused_event_id = models.CharField(max_length=100, blank=True, default="")
    refused_imei = models.CharField(max_length=16, blank=True, default="")
    refused_plmn = models.CharField(max_length=6, blank=True, default="")

    class Meta:
        verbose_name_plural = "connectivity"

    def __str__(self) -> str:
        return f"connectivity of {self.endpoint_id}"

    @property
    def session_open(self) -> bool:
        return self.session_started_at is not None and self.session_ended_at is None


class EndpointSearch(models.Model):
    """A copy of each endpoint's name, reference and ICCID that carries the
    search box's own indexes: the trigram GIN indexes of name and reference
    and the reversed ICCID's btree (its last digits).

    Why a second table: an UPDATE that cannot be HOT adds an entry to every
    index of the table, changed columns or not. State changes and network
    events update endpoints all the time (``state`` and ``last_activity`` are
    indexed, so they are never HOT), and with these indexes on the endpoint row
    each such update re-inserted one entry per trigram of name and reference,
    about thirty: most of the GIN upkeep that was close to half of a network
    event batch's UPDATE and five of the thirteen seconds of a 100,000-endpoint
    state change (docs/benchmark.md). Here they are written only when the text
    itself changes. The reversed ICCID followed for the same reason: its order
    is unrelated to the ids', so each endpoint updated touched a leaf page of
    its own, and after a checkpoint wrote that page whole to the WAL
    (docs/benchmark.md, "The ICCID's last digits moved to the search copy").
    (The tags' GIN index, one or two entries a row, stays on the endpoint: the
    tag filter combines it with the others.)

    The database keeps it (migrations 0004 and 0019): a statement trigger
    copies inserted endpoints (COPY included), a row trigger fires only on
    UPDATE OF name, reference or ICCID when a value differs, and ON DELETE
    CASCADE removes it with its endpoint, whoever deletes it. Read it only
    through ``inventory.search`` and ``inventory.admin.search``; never write it.
    """

    # The foreign key is the migration's own, with ON DELETE CASCADE.
    endpoint = models.OneToOneField(
        Endpoint,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        related_name="+",
        db_constraint=False,
    )
    name = models.CharField(max_length=100)
    reference = models.CharField(max_length=100)
    iccid = models.CharField("ICCID", max_length=20, db_collation="C")

    class Meta:
        indexes = [
            models.Index(
                OpClass(Reverse("iccid"), name="text_pattern_ops"), name="endpointsearch_iccid_rev"
            ),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="endpointsearch_name_trgm"),
            GinIndex(
                OpClass(Upper("reference"), name="gin_trgm_ops"),
                name="endpointsearch_reference_trgm",
            ),
        ]

    def __str__(self) -> str:
        return f"search copy of endpoint {self.endpoint_id}"


class SecondaryMembership(models.Model):
    """An endpoint's membership of a secondary group (multi-APN)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, db_index=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, db_index=False)
    group = models.ForeignKey(Group, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "group"], name="secondary_membership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} in {self.group_id}"


class IMSI(models.Model):
    """A network identity of an endpoint; globally unique."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, db_index=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="imsis")
    imsi = models.CharField("IMSI", max_length=15, db_collation="C", validators=[clean_imsi])

    class Meta:
        verbose_name = "IMSI"
        ordering = ["imsi"]
        constraints = [
            models.UniqueConstraint(fields=["imsi"], name="imsi_unique"),
            models.CheckConstraint(condition=Q(imsi__regex=r"^[0-9]{14,15}$"), name="imsi_format"),
        ]
        indexes = [
            models.Index(OpClass(Reverse("imsi"), name="text_pattern_ops"), name="imsi_rev"),
        ]

    def __str__(self) -> str:
        return self.imsi


class AllocationKind(models.TextChoices):
    STATIC = "static", "Static"
    AUTO = "auto", "Automatic"


class IPAllocation(models.Model):
    """An endpoint's address in one of its groups, from the group's VSlice."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, db_index=False)
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="ip_allocations", db_index=False
    )
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="ip_allocations")
    vslice = models.ForeignKey(
        VSlice, on_delete=models.PROTECT, related_name="ip_allocations", db_index=False
    )
    address = models.GenericIPAddressField(protocol="IPv4")
    kind = models.CharField(max_length=6, choices=AllocationKind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "IP allocation"
        constraints = [
            models.UniqueConstraint(
                fields=["vslice", "address"], name="ipallocation_unique_address"
            ),
            models.UniqueConstraint(
                fields=["endpoint", "group"], name="ipallocation_unique_membership"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=AllocationKind.values), name="ipallocation_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.address


class AddressBlock(models.Model):
    """How many addresses of one /24 a VSlice has allocated, so that the next
    free address is found by skipping full blocks instead of counting every
    used address before it (addressing.py).

    Kept by the database, not by Python: statement triggers on
    ``inventory_ipallocation`` (migration 0003) add and subtract per block
    whatever writes the allocations (the allocator, releases, cascades of a
    purge, COPY of an import), one aggregate per statement.
    """

    vslice = models.ForeignKey(
        VSlice, on_delete=models.CASCADE, related_name="address_blocks", db_index=False
    )
    #: The block's first address as an integer divided by 256 (absolute, so
    #: the same whatever the subnet's prefix).
    block = models.BigIntegerField()
    used = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vslice", "block"], name="addressblock_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.vslice_id}/{self.block}: {self.used}"


class EventType(models.TextChoices):
    ATTACH = "attach", "Attach"
    DETACH = "detach", "Detach"
    SESSION_START = "session_start", "Session start"
    SESSION_UPDATE = "session_update", "Session update"
    SESSION_END = "session_end", "Session end"


class HistoryAction(models.TextChoices):
    """What a History row records, labelled as the History tab and the admin
    show it. A network event that changes an endpoint is recorded under its own
    type, so each ``EventType`` is an action too."""

    CREATED = "created", "Allocated to the account"
    ASSIGN = "assign", "Assigned to group"
    SUSPEND = "suspend", "Suspended"
    TERMINATE = "terminate", "Terminated"
    REINSTATE = "reinstate", "Reinstated"
    EDITED = "edited", "Edited"
    STATIC_IP = "static_ip", "Static IP changed"
    ATTACH = EventType.ATTACH.value, "Attached to the network"
    DETACH = EventType.DETACH.value, "Detached from the network"
    SESSION_START = EventType.SESSION_START.value, "Data session started"
    SESSION_UPDATE = EventType.SESSION_UPDATE.value, "Data session reported usage"
    SESSION_END = EventType.SESSION_END.value, "Data session ended"
    SESSION_REJECTED = "session_rejected", "Data session refused"
    ACTIVATED = "activated", "Activated by the account"
    KEY_VALUES = "key_values", "Key values changed"
    USAGE_WARNING = "usage_warning", "Usage warning"
    GROUP_CHANGED = "group_changed", "Group settings changed"
    #: A RADIUS Disconnect-Request's outcome (answered or given up; docs/radius.md).
    RADIUS_DISCONNECT = "radius_disconnect", "Session disconnect (RADIUS)"
    RESET = "reset", "Connectivity reset"


class History(models.Model):
    """One change to one endpoint: who or what, when, what changed, and why.

    ``batch`` ties together the rows written by one bulk action or one request.

    Its links (account, endpoint, actor) have no database constraint, like
    those of the other rows written one per endpoint changed (session
    teardowns, network events, account events): each constraint's deferred
    check is a query per row at COMMIT, and in a bulk suspend of 5,000 the six
    checks took 144 of 558 ms (docs/benchmark.md, "Foreign keys of the logs").
    The rows are written only from endpoint rows the same statement holds
    locked, and the ORM still applies ``on_delete``; the 90-day purge deletes or
    unlinks them from these relations (``inventory.retention``).
    """

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.CASCADE,
        related_name="history",
        db_index=False,
        db_constraint=False,
    )
    at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    #: Who it was, kept readable after the user is deleted ("alice", "network").
    actor_label = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=32, choices=HistoryAction.choices)
    from_state = models.CharField(max_length=12, blank=True, default="")
    to_state = models.CharField(max_length=12, blank=True, default="")
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True, default="")
    batch = models.UUIDField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "history"
        indexes = [
            models.Index(F("endpoint"), F("at").desc(), F("id").desc(), name="history_endpoint_at"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


class SessionTeardown(models.Model):
    """An IMSI whose data session the packet core must end (after suspend or
    terminate). The core reads these in id order through the disconnects API."""

    # No database constraints, as History's links (see there).
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
    imsi = models.CharField(max_length=15)
    reason = models.CharField(max_length=12)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The purge and Django's cascade delete find teardowns by endpoint.
            models.Index(F("endpoint"), name="sessionteardown_endpoint"),
        ]

    def __str__(self) -> str:
        return f"end session of {self.imsi} ({self.reason})"


class NetworkToken(models.Model):
    """A bearer token of the provider's packet core (not of an account).
    Only its SHA-256 is stored; the token is shown once when created."""

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class EventStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    DUPLICATE = "duplicate", "Duplicate"
    STALE = "stale", "Stale"
    INVALID = "invalid", "Invalid"


class NetworkEvent(models.Model):
    """A network event as received, with its outcome. Kept 30 days.

    ``event_id`` is the core's own id: a repeated one is a duplicate."""

    event_id = models.CharField(max_length=100)
    # No database constraints, as History's links (see there).
    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
    )
    endpoint = models.ForeignKey(
        Endpoint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
    )
    type = models.CharField(max_length=16, choices=EventType.choices)
    imsi = models.CharField(max_length=15, blank=True, default="")
    imei = models.CharField(max_length=16, blank=True, default="")
    apn = models.CharField(max_length=100, blank=True, default="")
    at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=EventStatus.choices)
    reason = models.CharField(max_length=40, blank=True, default="")
    ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    # A database default too: the demo and benchmark loaders COPY events
    # without these columns.
    plmn = models.CharField("PLMN", max_length=6, blank=True, default="", db_default="")
    rat = models.CharField("RAT", max_length=6, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name="networkevent_unique_id"),
        ]
        indexes = [
            models.Index(F("account"), F("at").desc(), name="networkevent_acct_at"),
            models.Index(F("endpoint"), F("at").desc(), name="networkevent_endpoint_at"),
            models.Index(F("received_at"), name="networkevent_received_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.imsi} {self.status}"


class StockSim(models.Model):
    """A SIM the provider holds for no customer yet, with the hash of the
    activation code printed on its packaging (docs/activation.md).

    Kept apart from ``Endpoint`` so that "every endpoint belongs to an account"
    stays a NOT NULL foreign key. An unclaimed stock ICCID is never an endpoint's
    and the reverse: statement triggers on both tables (migration 0008) refuse
    the overlap, whoever writes. A claimed row stays, with who claimed it and
    when: the SIM cannot be activated twice, even after its endpoint is purged.
    """

    iccid = models.CharField("ICCID", max_length=20, db_collation="C", validators=[clean_iccid])
    imsis = ArrayField(models.CharField(max_length=15), verbose_name="IMSIs")
    #: ``activation_codes.make_hash``: never the code itself.
    code_hash = models.CharField(max_length=200, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = "stock SIM"
        ordering = ["iccid"]
        constraints = [
            models.UniqueConstraint(fields=["iccid"], name="stocksim_iccid_unique"),
            models.CheckConstraint(
                condition=Q(iccid__regex=r"^89[0-9]{17,18}$"), name="stocksim_iccid_format"
            ),
            models.CheckConstraint(
                condition=Q(claimed_at__isnull=True, claimed_by__isnull=True)
                | Q(claimed_at__isnull=False, claimed_by__isnull=False),
                name="stocksim_claimed_both_or_neither",
            ),
        ]
        indexes = [
            # Imports look IMSIs up in stock as well as in the IMSI table.
            GinIndex(fields=["imsis"], name="stocksim_imsis"),
        ]

    def __str__(self) -> str:
        return self.iccid


class ActivationFailure(models.Model):
    """A refused activation attempt (unknown ICCID, wrong code, already
    claimed), counted per ``who`` for the brute-force limit: a portal user
    (``user:<id>``) or an API token (``api-token:<id>``); staff read them in
    the admin. ``iccid`` is what was typed, cut to its field. The same rows
    are counted per account and per client address too (docs/activation.md)."""

    who = models.CharField(max_length=60)
    #: Who it was, readable ("alice", "api:erp-sync").
    label = models.CharField(max_length=150, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    iccid = models.CharField("ICCID tried", max_length=20, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(F("who"), F("at").desc(), name="activationfailure_who_at"),
            models.Index(F("account"), F("at").desc(), name="activationfailure_account_at"),
            models.Index(F("ip"), F("at").desc(), name="activationfailure_ip_at"),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.who} failed at {self.at:%Y-%m-%d %H:%M}"


class ActivationBlock(models.Model):
    """``who`` (as in ``ActivationFailure``) is refused activation until
    ``until`` after too many failures in an hour (docs/activation.md); ``who``
    is also ``account:<id>`` or ``ip:<address>`` for those limits. Staff may
    delete one to lift it early."""

    who = models.CharField(max_length=60)
    label = models.CharField(max_length=150, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    at = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField()

    class Meta:
        ordering = ["-until"]
        indexes = [models.Index(F("who"), F("until").desc(), name="activationblock_who_until")]

    def __str__(self) -> str:
        return f"{self.label or self.who} blocked until {self.until:%Y-%m-%d %H:%M}"


class KeyValueDigest(models.Func):
    """SHA-256 of ``key:value`` (no key holds a colon), by the database
    function of migration 0008: what ``keyvalue_acct_digest`` indexes and the
    ``kv`` filter compares. One expression for the pair, not the value alone,
    so that its statistics (PostgreSQL keeps them for an expression index)
    say how common the *pair* is, and the planner picks the right plan for a
    rare pair (the index, then the endpoints) and a common one (the list's
    ICCID order, probing each endpoint); ``key = … AND md5(value) = …``
    multiplied two estimates and chose a 180 ms hash join for a pair half the
    endpoints carry (docs/key-values.md). A value may be 1,024 characters, more
    than a btree entry holds: the digest is 32 bytes."""

    function = "inventory_key_value_digest"
    output_field = models.BinaryField()


class KeyValue(models.Model):
    """One key/value pair of an endpoint's own metadata (docs/key-values.md).

    A side table rather than a JSONB column on the endpoint: the endpoint row is
    rewritten by every network event and state change, and none of those
    updates is HOT, so each would add one GIN entry per pair to a JSONB index
    (measured in docs/key-values.md). Here a pair is written only when it
    changes. ``kv=key:value`` in the list reads ``keyvalue_acct_digest``
    (``KeyValueDigest``).
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, db_index=False)
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="key_values", db_index=False
    )
    key = models.CharField(max_length=64, db_collation="C")
    value = models.CharField(max_length=1024)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "key"], name="keyvalue_unique_key"),
            models.CheckConstraint(
                condition=Q(key__regex=r"^[a-z0-9_.-]{1,64}$"), name="keyvalue_key_format"
            ),
        ]
        indexes = [
            models.Index(
                F("account"),
                KeyValueDigest(F("key"), F("value")),
                F("endpoint"),
                name="keyvalue_acct_digest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value[:40]}"
