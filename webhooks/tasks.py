"""The workers' webhook tasks (docs/webhooks.md "Delivery"): deliver a webhook's
lanes, send one event ("send test event", "redeliver"), the minute's sweep and
the daily purge.

Every delivery task is on the queue ``QUEUE`` ("webhooks"), which production
runs in workers of its own (``manage.py procrastinate worker --queues
webhooks,maintenance --concurrency 4``, docs/production.md), so a bulk job on
the "jobs" queue never waits behind a delivery, nor a delivery behind a job.

``wake_accounts`` queues one delivery per webhook; a ``queueing_lock`` keeps at
most one waiting per webhook, so a burst of commits queues one task, not
thousands. A delivery that finds a lane failing queues its own retry for the
lane's next attempt (another lock, so new events still wake the other lanes at
once); one that used up its time queues itself again, behind what else waits.
"Send test event" and "Redeliver" keep at most one of each waiting per webhook
(``webhooks.services``). An account delivers in one worker slot at a time
(``_account_turn``): a task that finds its account's turn taken queues itself
again a second later, so an account with many slow webhooks holds one slot, not
all of them. A webhook whose turn ended with work left while another of its
account waits yields: it queues itself ``YIELD`` later (the "-yield" lock; a
plain wake of it meanwhile leaves the work to that one), so the other gets the
turn first. A worker killed mid-delivery is noticed by
``jobs.retry_stalled_jobs``, and the sweep wakes any webhook with events
waiting.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from procrastinate import exceptions
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import NOT_WANTED, AccountEvent
from webhooks import delivery, retention
from webhooks.models import AttemptKind, Lane, Webhook

logger = logging.getLogger("webhooks")

#: The deliveries' queue (deliver, send_once); the periodic ones are on
#: "maintenance", which every worker should also run.
QUEUE = "webhooks"

#: pg_try_advisory_lock(namespace, account id): one delivering task per account.
ACCOUNT_LOCK_NAMESPACE = 17_021
#: When a task that found its account's turn taken tries again.
TURN_RETRY = timedelta(seconds=1)
#: How long a webhook that used its turn waits when another of its account waits.
YIELD = timedelta(seconds=3)

_quote = connection.ops.quote_name
_EVENTS = _quote(AccountEvent._meta.db_table)
_WEBHOOKS = _quote(Webhook._meta.db_table)
_LANES = _quote(Lane._meta.db_table)


def _defer(webhook_id: int, *, lock: str, schedule_at=None) -> None:
    # One waiting already (AlreadyEnqueued) will see these events too.
    with contextlib.suppress(exceptions.AlreadyEnqueued):
        deliver.configure(queueing_lock=lock, schedule_at=schedule_at).defer(webhook_id=webhook_id)


@contextlib.contextmanager
def _account_turn(account_id: int) -> Iterator[bool]:
    """Whether this task has its account's turn (a session advisory lock on
    the task's own connection, released at the end, or by PostgreSQL when a
    killed worker's connection goes)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ACCOUNT_LOCK_NAMESPACE, account_id])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [ACCOUNT_LOCK_NAMESPACE, account_id]
                )


def _others_waiting(account_id: int, webhook_id: int) -> bool:
    """Does a delivery of another webhook of the account (or a test or
    redelivery of this one) wait in the queue?"""
    siblings = list(
        Webhook.objects.filter(account_id=account_id)
        .exclude(pk=webhook_id)
        .values_list("pk", flat=True)
    )
    waiting = ProcrastinateJob.objects.filter(queue_name=QUEUE, status="todo")
    return waiting.filter(args__webhook_id__in=siblings).exists() or (
        waiting.filter(task_name="webhooks.send_once", args__webhook_id=webhook_id).exists()
    )


def _yielded(webhook_id: int) -> bool:
    return ProcrastinateJob.objects.filter(
        status="todo", queueing_lock=f"webhook-{webhook_id}-yield"
    ).exists()


def wake(webhook_id: int) -> None:
    _defer(webhook_id, lock=f"webhook-{webhook_id}")


def wake_accounts(account_ids: list[int]) -> None:
    """Queue the delivery of every enabled webhook of these accounts."""
    for webhook_id in Webhook.objects.filter(account_id__in=account_ids, enabled=True).values_list(
        "pk", flat=True
    ):
        wake(webhook_id)


@app.task(name="webhooks.deliver", queue=QUEUE, pass_context=True)
def deliver(context, webhook_id: int) -> None:
    """Deliver the webhook's waiting events, lanes side by side."""
    account_id = (
        Webhook.objects.filter(pk=webhook_id, enabled=True).values_list("account_id", flat=True)
    ).first()
    if account_id is None:
        return
    if context.job.queueing_lock != f"webhook-{webhook_id}-yield" and _yielded(webhook_id):
        return  # it gave its turn away; its own later task delivers these events too
    with _account_turn(account_id) as turn:
        if not turn:
            _defer(
                webhook_id, lock=f"webhook-{webhook_id}", schedule_at=timezone.now() + TURN_RETRY
            )
            return
        again = delivery.deliver(webhook_id=webhook_id)
    if again is None:
        return
    if again <= timezone.now():  # time was up with events left
        if _others_waiting(account_id, webhook_id):
            later = timezone.now() + YIELD
            _defer(webhook_id, lock=f"webhook-{webhook_id}-yield", schedule_at=later)
        else:
            wake(webhook_id)
    else:
        _defer(webhook_id, lock=f"webhook-{webhook_id}-retry", schedule_at=again)


@app.task(name="webhooks.send_once", queue=QUEUE)
def send_once(webhook_id: int, event_id: int, kind: str) -> None:
    """One attempt of one event, outside the lanes (not retried)."""
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    event = AccountEvent.objects.filter(pk=event_id).first()
    if webhook is None or event is None or event.account_id != webhook.account_id:
        return
    with _account_turn(webhook.account_id) as turn:
        if turn:
            delivery.send_once(webhook=webhook, event=event, kind=AttemptKind(kind))
            return
    # Its turn later; a newer one of the same kind queued meanwhile replaces it.
    with contextlib.suppress(exceptions.AlreadyEnqueued):
        send_once.configure(
            queueing_lock=f"webhook-{webhook_id}-{kind}", schedule_at=timezone.now() + TURN_RETRY
        ).defer(webhook_id=webhook_id, event_id=event_id, kind=kind)


@app.periodic(cron="* * * * *")
@app.task(name="webhooks.sweep", queue="maintenance", queueing_lock="webhooks_sweep")
def sweep(timestamp: int) -> None:
    """Every minute: wake each enabled webhook with events waiting (a wake lost
    between a commit and its queueing, a worker that died)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT w.id FROM {_WEBHOOKS} w
             WHERE w.enabled
               AND (EXISTS (SELECT 1 FROM {_EVENTS} e
                             WHERE e.account_id = w.account_id AND e.seq IS NULL)
                    OR EXISTS (SELECT 1 FROM {_LANES} l
                                WHERE l.webhook_id = w.id
                                  AND EXISTS (SELECT 1 FROM {_EVENTS} e
                                               WHERE e.account_id = w.account_id
                                                 AND e.lane = l.number AND e.seq > l.cursor
                                                 AND e.seq > {NOT_WANTED}
                                                 AND e.type = ANY(w.event_types))))
            """
        )
        waiting = [row[0] for row in cursor.fetchall()]
    for webhook_id in waiting:
        wake(webhook_id)


@app.periodic(cron="47 3 * * *")
@app.task(name="webhooks.purge", queue="maintenance", queueing_lock="webhooks_purge")
def purge(timestamp: int) -> None:
    """Daily: events and delivery attempts older than 30 days."""
    counts = retention.purge()
    logger.info("webhooks purge: %s", counts)
