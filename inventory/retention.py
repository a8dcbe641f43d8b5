"""Deleting endpoints whose 90 days after termination have passed.

Support may reinstate a terminated endpoint for 90 days (``lifecycle.reinstate``);
after that the record goes for good, with its IMSIs (which become free for new
SIMs), addresses (static ones were kept reserved until now), secondary
memberships, history, pending session teardowns, connectivity snapshot, key
values and usage: every row whose model points at the endpoint with CASCADE.
Network events (SET_NULL) keep their row for their own 30 days but lose the
link to the endpoint.

The purge runs daily from cron. It works in batches of ids, one transaction per
batch, so that it never holds locks on a large part of the table, and it can be
interrupted and rerun at any time: each batch re-selects what is still expired.
Children are deleted with one set-based statement per table (Django's cascade
would load every row into Python first).

Network events and session teardowns are kept 30 days and purged in short
batches too (``purge_network_events``, with ``portal.batch_delete``); so are
refused activations and ended activation blocks (``purge_activation_failures``: only the last hour
counts for the limits, staff read older ones for a month). The commands of the
same names and the worker's daily tasks (jobs/tasks.py) call these functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import CASCADE, SET_NULL, Count
from django.utils import timezone

from inventory.models import (
    IMSI,
    ActivationBlock,
    ActivationFailure,
    Endpoint,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from portal.batch_delete import Tables, delete_tables_before
from portal.models import Account

#: A terminated endpoint is kept this long: it is both the window in which support
#: may reinstate it (``lifecycle.REINSTATE_WINDOW``) and the age the purge deletes at.
RETENTION = timedelta(days=90)
BATCH = 5_000
#: Network events (and session teardowns) are kept this long; the network API
#: refuses older events (``network.contract.MAX_AGE``).
EVENT_RETENTION = timedelta(days=30)
EVENT_RETENTION_DAYS = EVENT_RETENTION.days
EVENT_BATCH = 10_000

#: How the purge names the rows it deleted of the tables it always meets, in
#: the order it reports them; any other table by its model's plural name, after.
_LABELS = {
    IMSI: "imsis",
    IPAllocation: "addresses",
    SecondaryMembership: "memberships",
    History: "history",
    SessionTeardown: "teardowns",
    NetworkEvent: "events unlinked",
}


@dataclass(frozen=True)
class _Dependent:
    label: str
    table: str
    column: str
    unlink: bool  # SET_NULL: the row stays, without its endpoint


def _dependents() -> list[_Dependent]:
    """Every table whose rows point at an endpoint, as the models declare it
    (``Endpoint._meta.related_objects``): the rows of a CASCADE go with the
    endpoint, those of a SET_NULL lose the link. Read from the models rather
    than listed here, so that a table another app adds (usage, connectivity,
    key values) can never make the purge fail on its foreign key: inventory
    does not import those apps, and a list of its own went stale once."""
    dependents = []
    known = list(_LABELS)
    relations = sorted(
        Endpoint._meta.related_objects,
        key=lambda r: known.index(r.related_model) if r.related_model in known else len(known),
    )
    for relation in relations:
        if relation.on_delete not in (CASCADE, SET_NULL):
            raise ImproperlyConfigured(
                f"{relation.related_model.__name__}.{relation.field.name}: the purge "
                "knows CASCADE and SET_NULL only"
            )
        model = relation.related_model
        dependents.append(
            _Dependent(
                label=_LABELS.get(model, str(model._meta.verbose_name_plural)),
                table=connection.ops.quote_name(model._meta.db_table),
                column=connection.ops.quote_name(relation.field.column),
                unlink=relation.on_delete is SET_NULL,
            )
        )
    return dependents


_ENDPOINTS = connection.ops.quote_name(Endpoint._meta.db_table)


@dataclass
class PurgeResult:
    dry_run: bool
    cutoff: datetime
    by_account: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def endpoints(self) -> int:
        return sum(self.by_account.values())


def cutoff_for(now: datetime | None = None) -> datetime:
    """Terminations before this instant are past their 90 days."""
    return (now or timezone.now()) - RETENTION


def expired(*, cutoff: datetime):
    """Terminated endpoints whose retention has ended (served by the partial
    index on ``terminated_at``)."""
    return Endpoint.objects.filter(state=State.TERMINATED, terminated_at__lt=cutoff)


def _slugs() -> dict[int, str]:
    return dict(Account.objects.values_list("id", "slug"))


def purge_terminated(
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> PurgeResult:
    """Delete (or with ``dry_run`` only count) every expired endpoint and its rows."""
    cutoff = cutoff_for(now)
    result = PurgeResult(dry_run=dry_run, cutoff=cutoff)
    slugs = _slugs()
    if dry_run:
        counts = expired(cutoff=cutoff).values("account_id").annotate(n=Count("id"))
        for row in counts.order_by("account_id"):
            result.by_account[slugs[row["account_id"]]] = row["n"]
        return result

    dependents = _dependents()
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            # SKIP LOCKED: an endpoint being reinstated right now is left for the next run.
            cursor.execute(
                f"SELECT id, account_id FROM {_ENDPOINTS}"
                " WHERE state = %(state)s AND terminated_at < %(cutoff)s"
                " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED",
                {"state": State.TERMINATED.value, "cutoff": cutoff, "limit": batch_size},
            )
            batch = cursor.fetchall()
            if not batch:
                break
            ids = [endpoint_id for endpoint_id, _ in batch]
            for dependent in dependents:
                t, c = dependent.table, dependent.column
                cursor.execute(
                    f"UPDATE {t} SET {c} = NULL WHERE {c} = ANY(%(ids)s)"
                    if dependent.unlink
                    else f"DELETE FROM {t} WHERE {c} = ANY(%(ids)s)",
                    {"ids": ids},
                )
                if cursor.rowcount:
                    label = dependent.label
                    result.rows[label] = result.rows.get(label, 0) + cursor.rowcount
            cursor.execute(f"DELETE FROM {_ENDPOINTS} WHERE id = ANY(%(ids)s)", {"ids": ids})
            for _, account_id in batch:
                slug = slugs.get(account_id) or str(account_id)
                result.by_account[slug] = result.by_account.get(slug, 0) + 1
        if progress:
            progress(result.endpoints)
        if len(batch) < batch_size:
            break
    return result


# -- network events ---------------------------------------------------------------------


#: What the network-event purge deletes: (label, model, time column).
EVENT_TABLES: Tables = (
    ("network events", NetworkEvent, "received_at"),
    ("session teardowns", SessionTeardown, "at"),
)


def purge_network_events(*, cutoff: datetime, batch_size: int = EVENT_BATCH) -> dict[str, int]:
    """Delete network events received, and session teardowns made, before
    ``cutoff`` (the core has read those long before); counts by label."""
    return delete_tables_before(EVENT_TABLES, cutoff=cutoff, batch_size=batch_size)


#: Refused activations and blocks that ended are kept this long for staff.
ACTIVATION_RETENTION_DAYS = 30
#: What the activation purge deletes: (label, model, time column).
ACTIVATION_TABLES: Tables = (
    ("activation failures", ActivationFailure, "at"),
    ("activation blocks", ActivationBlock, "until"),
)


def purge_activation_failures(*, cutoff: datetime, batch_size: int = EVENT_BATCH) -> dict[str, int]:
    """Delete refused activations made, and activation blocks ended, before
    ``cutoff``; counts by label. The limits look back one hour only."""
    return delete_tables_before(ACTIVATION_TABLES, cutoff=cutoff, batch_size=batch_size)
