"""Background jobs: a bulk action or an import, bound to the account, user,
action and selection it was confirmed for, and its progress.

A job's progress is written in the same transaction as the work of each chunk
(``jobs.runner``), so ``position``, ``changed`` and ``skipped`` are always
exactly what is committed: a worker killed at any moment loses nothing and
counts nothing twice. docs/jobs.md tells the whole story.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from inventory.lifecycle import TransitionResult
from inventory.models import Group
from portal.models import Account, ActorKind


class Action(models.TextChoices):
    """What a job does. The lifecycle actions carry the values of
    ``inventory.lifecycle`` (``ASSIGN``, ``SUSPEND``, ``TERMINATE``)."""

    SUSPEND = "suspend", "Suspend"
    TERMINATE = "terminate", "Terminate"
    ASSIGN = "assign", "Assign to group"
    IMPORT = "import", "Import SIMs"
    SET_KEY_VALUE = "set_key_value", "Set key value"
    RESET = "reset", "Reset connectivity"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Job(models.Model):
    """One confirmed bulk action or import, from queued to its end.

    ``total`` targets are frozen when the job is created (``JobTarget``, or
    ``ImportRow`` for an import); ``position`` of them are done, in position
    order. ``changed`` plus the sum of ``skipped`` equals ``position`` after
    every chunk, but for the ``waiting`` targets (passed over because another
    transaction held their endpoint, done by a later pass), and ``total`` once
    the job has succeeded. Every History row the job writes carries ``batch``.
    """

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    #: Who confirmed it, kept readable after the user is deleted.
    created_by_label = models.CharField(max_length=150, blank=True, default="")
    #: A member in the portal ("user"), or an API token ("api").
    created_by_kind = models.CharField(
        max_length=8, choices=ActorKind.choices, default=ActorKind.USER
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    group = models.ForeignKey(
        Group, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    reason = models.TextField(blank=True, default="")
    #: The pair a "set key value" job sets (``inventory.key_values``).
    key = models.CharField(max_length=64, blank=True, default="")
    value = models.CharField(max_length=1024, blank=True, default="")
    state = models.CharField(max_length=12, choices=JobState.choices, default=JobState.QUEUED)
    total = models.IntegerField(default=0)
    #: How many targets are done: the next chunk starts at this position.
    position = models.IntegerField(default=0)
    changed = models.IntegerField(default=0)
    #: Skip reason (as users read it) → count.
    skipped = models.JSONField(default=dict, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    batch = models.UUIDField(default=uuid.uuid4, editable=False)
    #: How many times a runner has started on it (more than 1: it was resumed).
    attempts = models.IntegerField(default=0)
    #: The longest time one chunk held its locks, up to its COMMIT.
    longest_chunk_ms = models.IntegerField(default=0)
    #: Targets passed over because another transaction (a network event batch,
    #: another job) held their endpoint when their chunk came, not done yet:
    #: a later pass does them (``jobs.locking``). Part of ``position``.
    waiting = models.IntegerField(default=0)
    #: How many times a target was passed over so (the first time and every
    #: later pass that found it still held), and how many later passes ran.
    passed_over = models.IntegerField(default=0)
    later_passes = models.IntegerField(default=0)
    #: Chunk attempts that ran out of their lock budget and were rolled back
    #: and made again smaller (``jobs.chunk_budget``): work done twice, never
    #: committed twice.
    cut_chunks = models.IntegerField(default=0)
    #: The Procrastinate job that runs it (none for a job run inline).
    queue_job_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=JobState.values), name="job_state_valid"),
            models.CheckConstraint(condition=Q(action__in=Action.values), name="job_action_valid"),
            models.CheckConstraint(
                condition=~Q(action=Action.ASSIGN) | Q(group__isnull=False),
                name="job_assign_has_group",
            ),
            models.CheckConstraint(
                condition=~Q(action=Action.SET_KEY_VALUE) | ~Q(key=""),
                name="job_set_key_value_has_key",
            ),
            models.CheckConstraint(
                condition=Q(position__gte=0, position__lte=F("total")),
                name="job_position_in_range",
            ),
            models.CheckConstraint(
                condition=Q(changed__gte=0, changed__lte=F("position")),
                name="job_changed_in_range",
            ),
            models.CheckConstraint(
                condition=Q(waiting__gte=0, waiting__lte=F("position")),
                name="job_waiting_in_range",
            ),
        ]
        indexes = [
            # The account's jobs, newest first (the jobs page), by state or not.
            models.Index(F("account"), F("id").desc(), name="job_account_newest"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk}: {self.get_action_display()} ({self.get_state_display()})"

    def get_absolute_url(self) -> str:
        return reverse("jobs:job_detail", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def cancellable(self) -> bool:
        """An import, once validated, is written through: all or nothing is
        about the file, so only bulk actions stop half-way."""
        return not self.finished and not self.cancel_requested and self.action != Action.IMPORT

    @property
    def done(self) -> int:
        """Targets done: the positions passed, but for those still waiting."""
        return self.position - self.waiting

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skipped_ordered(self) -> list[tuple[str, int]]:
        """Most frequent reason first, as the lifecycle summaries read."""
        return sorted(self.skipped.items(), key=lambda item: (-item[1], item[0]))

    def result(self) -> TransitionResult:
        """What a bulk job did, as the lifecycle rule reports it ("1,204
        suspended, 3 skipped: already terminated")."""
        return TransitionResult(
            action=self.action,
            changed=self.changed,
            skipped=dict(self.skipped_ordered()),
            batch=self.batch,
        )


class JobTarget(models.Model):
    """The frozen selection of a bulk job: the endpoint ids the user confirmed,
    numbered 0 … total-1 in id order (the order the lifecycle locks rows in, so
    two jobs never deadlock), written by one ``INSERT … SELECT`` when the job
    is created and read one position range per chunk.

    A table rather than a ``bigint[]`` column on the job, measured at 100,000
    endpoints on this machine kind: freezing takes 0.5 s into the table and
    0.1–0.3 s into an array, and a chunk reads its 5,000 ids in 2–4 ms either
    way; but an array slice detoasts the whole array, so at a million ids a
    chunk's read costs 15–25 ms (3–5 s over the job's 200 chunks) and every
    read of the job row (each chunk locks it, each progress poll reads it)
    carries the 8 MB array, while the table's primary key serves any range in a few ms
    whatever the size, and the job page pages and joins the targets by
    position. ``endpoint_id`` is deliberately not a foreign key: the 90-day
    purge deletes endpoints, and what a job was asked to act on stays true.
    """

    pk = models.CompositePrimaryKey("job", "position")
    # No database constraint: its deferred check of every row doubled the time
    # to freeze a selection (0.5 → 1.0 s per 100,000). The job row and its
    # targets are written in one transaction and deleted together.
    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="targets", db_constraint=False
    )
    position = models.IntegerField()
    endpoint_id = models.BigIntegerField()
    #: Its chunk passed it over (another transaction held the endpoint); a
    #: later pass of the job does it and clears the mark in the same commit.
    waiting = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [
            # The later passes read only the waiting targets, in position order.
            models.Index("job", "position", condition=Q(waiting=True), name="jobtarget_waiting"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} #{self.position}: endpoint {self.endpoint_id}"


class ImportRow(models.Model):
    """A validated line of a SIM import, staged for its job's chunks (the file
    is checked all or nothing before anything is staged). Deleted with the
    job's last chunk."""

    pk = models.CompositePrimaryKey("job", "position")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="import_rows")
    position = models.IntegerField()
    line = models.IntegerField()
    iccid = models.CharField(max_length=20)
    imsis = ArrayField(models.CharField(max_length=15))
    name = models.CharField(max_length=100, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="")
    tags = ArrayField(models.CharField(max_length=40), blank=True, default=list)

    def __str__(self) -> str:
        return f"job {self.job_id} line {self.line}: {self.iccid}"
