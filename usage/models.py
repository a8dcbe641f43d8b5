"""Data usage per endpoint and per account per UTC day, usage warnings, and the
exact endpoint counts per account × state × primary group (docs/usage.md).

None of these is written by the ORM: the network batch upserts usage
(``usage.rollup``), and database triggers keep the counts (migration 0001)
whatever writes the endpoints. ``usage.derived`` rebuilds them from the source
rows and reports any drift.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from inventory.models import Endpoint, Group, State
from portal.models import Account


class EndpointDailyUsage(models.Model):
    """Bytes one endpoint moved on one UTC day, summed from its session reports."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, db_index=False)
    day = models.DateField()
    bytes_up = models.BigIntegerField(default=0)
    bytes_down = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "endpoint daily usage"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "day"], name="endpointusage_unique_day"),
            models.CheckConstraint(
                condition=Q(bytes_up__gte=0, bytes_down__gte=0), name="endpointusage_nonnegative"
            ),
        ]
        indexes = [
            # Top endpoints of the month: one account's days.
            models.Index(F("account"), F("day"), name="endpointusage_acct_day"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} on {self.day}"


class EndpointMonthlyUsage(models.Model):
    """Bytes (up and down) one endpoint moved in one UTC month: what its
    allowance is measured against, the list's "this month" column and the
    dashboard's top endpoints (read along ``endpointmonth_top``, not summed
    over a month of days)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, db_index=False)
    #: The first day of the month.
    month = models.DateField()
    bytes_total = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "endpoint monthly usage"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "month"], name="endpointmonth_unique_month"
            ),
            models.CheckConstraint(
                condition=Q(bytes_total__gte=0), name="endpointmonth_nonnegative"
            ),
        ]
        indexes = [
            models.Index(
                F("account"),
                F("month"),
                F("bytes_total").desc(),
                F("endpoint"),
                name="endpointmonth_top",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} in {self.month:%Y-%m}"


#: How many rows a row that every writer of an account updates is spread over
#: (``AccountDailyUsage.stripe``, ``StateCount.stripe``; the trigger of
#: usage/0005 says 8 too). A transaction writes to stripe ``txid_current() %
#: STRIPES`` of both.
STRIPES = 8


class AccountDailyUsage(models.Model):
    """Bytes all of one account's endpoints moved on one UTC day: the sum of
    the day's rows, one per stripe.

    Every network batch of an account adds to its day, so with one row per day
    two batches of the same account wait for each other's COMMIT on it (the
    RADIUS server and the network API decide several batches at once). A
    batch adds to the stripe its transaction id picks
    (``txid_current() % STRIPES``): transactions running at the
    same time started close together, so their ids differ by less than the
    stripes and they add to different rows (a stripe per connection instead
    would make two connections whose numbers collide share a row for their
    whole life). Readers sum the stripes (``usage.selectors``)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False)
    day = models.DateField()
    stripe = models.PositiveSmallIntegerField(db_default=0)
    bytes_up = models.BigIntegerField(default=0)
    bytes_down = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "account daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "stripe"], name="accountusage_unique_stripe"
            ),
            models.CheckConstraint(
                condition=Q(stripe__lt=STRIPES), name="accountusage_stripe_range"
            ),
            models.CheckConstraint(
                condition=Q(bytes_up__gte=0, bytes_down__gte=0), name="accountusage_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} on {self.day} ({self.stripe})"


class WarningKind(models.TextChoices):
    WARNING = "warning", "Warning threshold reached"
    LIMIT = "limit", "Allowance used up"


class UsageWarning(models.Model):
    """An endpoint crossed its group's warning percentage (or 100 %) in one
    month. Unique per endpoint, month and kind: raised exactly once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, db_index=False)
    group = models.ForeignKey(
        Group, on_delete=models.SET_NULL, null=True, blank=True, db_index=False
    )
    #: The first day of the UTC month.
    month = models.DateField()
    kind = models.CharField(max_length=8, choices=WarningKind.choices)
    at = models.DateTimeField()
    used_bytes = models.BigIntegerField()
    allowance_bytes = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "month", "kind"], name="usagewarning_once"),
            models.CheckConstraint(
                condition=Q(kind__in=WarningKind.values), name="usagewarning_kind_valid"
            ),
        ]
        indexes = [models.Index(F("account"), F("at").desc(), name="usagewarning_acct_at")]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.kind} {self.month:%Y-%m}"


class StateCount(models.Model):
    """How many endpoints of an account are in one state in one primary group
    (no group: ``group`` is null): the sum of its rows, one per stripe. Kept
    exact by statement triggers on ``inventory_endpoint`` in the same
    transaction as every change.

    A write moves the counts of the states it leaves and enters, so with one
    row per count every transaction that changes states in an account (a
    network batch activating idle SIMs, a job's chunk) waited for the COMMIT
    of the one before it on those rows. The trigger adds to the stripe of the
    writing transaction (``txid_current() % STRIPES``, as
    ``AccountDailyUsage``), so concurrent writers add to different rows. One
    stripe may go below zero (endpoints counted in by one transaction, out by
    another); the sum never does. Readers sum the stripes (``usage.counts``,
    the list's segment test)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False)
    state = models.CharField(max_length=12, choices=State.choices)
    # No database constraint: a group deleted by SQL leaves a zero row behind,
    # which readers join away and the rebuild removes. Deleting an (empty) group
    # through Django removes its rows here too, so inventory need not know them.
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        db_constraint=False,
        db_index=False,
    )
    stripe = models.PositiveSmallIntegerField(db_default=0)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "state", "group", "stripe"],
                name="statecount_unique_stripe",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=Q(stripe__lt=STRIPES), name="statecount_stripe_range"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.state} {self.group_id}: {self.count}"
