"""How account events reach a webhook: in order per endpoint, each attempt
logged, retried with backoff, never lost (docs/webhooks.md "Delivery").

``sequence`` numbers the account's committed events (``seq``) in one
statement under the lock of the account's ``EventCounter`` row. Numbering after commit, not at
insert, is what makes a cursor safe: a bigint id is taken when a row is
inserted, and a transaction that took a lower id may commit later than one
with a higher id, so a cursor over ids could pass over it. Two events of one
endpoint are written under that endpoint's row lock, so the second is
inserted after the first committed: any snapshot that sees the second sees the
first, and ``sequence`` (which numbers what it sees in id order) gives the
first the lower ``seq``.

A webhook delivers its ``LANES`` lanes side by side (``deliver``: one thread
each, with its own database connection and keep-alive HTTP connection). A lane
is strictly sequential: it locks its ``Lane`` row, sends the events after its
cursor one by one and stops at the first failure; the attempts and the moved
cursor commit together, at most ``BATCH`` events or ``BATCH_SECONDS`` of
sending at a time. A worker killed mid-batch rolls that batch back, and the
next worker sends those events again, with the same ``webhook-id``: an event
may arrive twice, never out of order and never not at all.

Fair to the other webhooks (docs/webhooks.md "Fairness"): a task delivers one
webhook for at most ``task_seconds()`` (checked after every attempt, each
attempt bounded by its own deadline, ``sending.attempt_seconds()``) and then
queues itself again, behind the other webhooks' waiting tasks; a lane another
task is delivering is skipped, not waited for, so a busy webhook never holds a
second worker slot.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from events.models import LANES, AccountEvent
from webhooks import errors
from webhooks.models import Attempt, AttemptKind, EventCounter, Lane, Webhook
from webhooks.sending import Connection

logger = logging.getLogger("webhooks")

_quote = connection.ops.quote_name
_EVENTS = _quote(AccountEvent._meta.db_table)
_COUNTERS = _quote(EventCounter._meta.db_table)

#: Seconds before each retry of a failing lane; the last is repeated.
RETRY_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 7200, 14400)
#: A webhook whose deliveries fail this long is disabled.
DISABLE_AFTER = timedelta(hours=24)
#: Events a lane sends per transaction, and the seconds of sending after which
#: the transaction commits anyway (what a killed worker can make a lane resend).
BATCH = 200
BATCH_SECONDS = 1.0
#: Events numbered per ``sequence`` statement.
SEQUENCE_BATCH = 50_000
#: A delivery task hands over after this long (another task continues, behind
#: the other webhooks' tasks waiting meanwhile).
TASK_SECONDS = 10.0
#: When a lane that another task is delivering is looked at again.
BUSY_RETRY = timedelta(seconds=2)


def retry_schedule() -> tuple[float, ...]:
    return tuple(getattr(settings, "WEBHOOK_RETRY_SCHEDULE", RETRY_SCHEDULE))


def disable_after() -> timedelta:
    return getattr(settings, "WEBHOOK_DISABLE_AFTER", DISABLE_AFTER)


def task_seconds() -> float:
    return float(getattr(settings, "WEBHOOK_TASK_SECONDS", TASK_SECONDS))


def sequence(*, account_id: int) -> int:
    """Number the account's committed, unnumbered events in id order; returns
    how many were numbered."""
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            params = {"account": account_id, "limit": SEQUENCE_BATCH}
            cursor.execute(
                f"INSERT INTO {_COUNTERS} (account_id, last_seq) VALUES (%(account)s, 0) "
                "ON CONFLICT DO NOTHING",
                params,
            )
            cursor.execute(
                f"SELECT last_seq FROM {_COUNTERS} WHERE account_id = %(account)s FOR UPDATE",
                params,
            )
            top = cursor.fetchone()[0]
            # A statement of its own after the lock: its snapshot includes
            # everything the previous numbering committed.
            cursor.execute(
                f"""
                WITH n AS (SELECT id, row_number() OVER (ORDER BY id) AS rn
                             FROM {_EVENTS}
                            WHERE account_id = %(account)s AND seq IS NULL
                            ORDER BY id LIMIT %(limit)s),
                     numbered AS (UPDATE {_EVENTS} e SET seq = %(top)s + n.rn
                                    FROM n WHERE e.id = n.id RETURNING 1)
                UPDATE {_COUNTERS} SET last_seq = last_seq + (SELECT count(*) FROM numbered)
                 WHERE account_id = %(account)s
                RETURNING last_seq - %(top)s
                """,
                {**params, "top": top},
            )
            numbered = cursor.fetchone()[0]
        total += numbered
        if numbered < SEQUENCE_BATCH:
            return total


def ensure_lanes(webhook: Webhook, *, cursor: int = 0) -> None:
    Lane.objects.bulk_create(
        [Lane(webhook=webhook, number=n, cursor=cursor) for n in range(LANES)],
        ignore_conflicts=True,
    )


def head(*, account_id: int) -> int:
    """The account's highest ``seq`` so far (a new webhook starts after it)."""
    sequence(account_id=account_id)
    return EventCounter.objects.get(account_id=account_id).last_seq


def _pending(webhook: Webhook, lane: Lane) -> list[AccountEvent]:
    return list(
        AccountEvent.objects.filter(
            account_id=webhook.account_id,
            lane=lane.number,
            # Never below NOT_WANTED (0): the partial index accountevent_lane_numbered.
            seq__gt=lane.cursor,
            type__in=webhook.event_types,
        ).order_by("seq")[:BATCH]
    )


def _fail(webhook: Webhook, lane: Lane, result, now: datetime) -> None:
    lane.failures += 1
    lane.failing_since = lane.failing_since or now
    if now - lane.failing_since >= disable_after():
        reason = (
            f"Disabled {now:%Y-%m-%d %H:%M} UTC: every delivery failed since "
            f"{lane.failing_since:%Y-%m-%d %H:%M} UTC. "
            f"Last error: {errors.describe(result.error, result.status_code)}"
        )
        Webhook.objects.filter(pk=webhook.pk).update(enabled=False, disabled_reason=reason)
        logger.warning("webhook %s disabled: %s", webhook.pk, reason)
        lane.next_attempt_at = None
        return
    schedule = retry_schedule()
    wait = schedule[min(lane.failures - 1, len(schedule) - 1)]
    lane.next_attempt_at = now + timedelta(seconds=wait)


def drain_lane(webhook_id: int, number: int, *, until: float | None = None) -> datetime | None:
    """Deliver lane ``number`` of the webhook until it is empty, fails or time is
    up. Returns when the lane wants to be tried again (None: nothing waits, or
    the webhook is disabled; ``timezone.now()``: time was up with work left;
    a moment later: another task is delivering the lane)."""
    import time

    conn: Connection | None = None
    try:
        while True:
            with transaction.atomic():
                lane = (
                    Lane.objects.select_for_update(skip_locked=True)
                    .filter(webhook_id=webhook_id, number=number)
                    .first()
                )
                if lane is None:
                    if Lane.objects.filter(webhook_id=webhook_id, number=number).exists():
                        return timezone.now() + BUSY_RETRY  # another task has it
                    return None  # deleted meanwhile
                webhook = Webhook.objects.filter(pk=webhook_id).first()
                if webhook is None or not webhook.enabled:
                    return None  # deleted or disabled meanwhile
                now = timezone.now()
                if lane.next_attempt_at and lane.next_attempt_at > now:
                    return lane.next_attempt_at
                events = _pending(webhook, lane)
                if not events:
                    return None
                if conn is None:
                    conn = Connection(webhook.url)
                attempts = []
                failed = timed_out = False
                batch_ends = time.monotonic() + BATCH_SECONDS
                for event in events:
                    result = conn.send(secret=webhook.secret, event=event)
                    attempts.append(
                        Attempt(
                            webhook=webhook,
                            event=event,
                            kind=AttemptKind.DELIVERY,
                            status_code=result.status_code,
                            latency_ms=result.latency_ms,
                            ok=result.ok,
                            error=result.error,
                        )
                    )
                    if not result.ok:
                        _fail(webhook, lane, result, timezone.now())
                        failed = True
                        break
                    lane.cursor = event.seq
                    clock = time.monotonic()
                    if until is not None and clock > until:
                        timed_out = True
                        break
                    if clock > batch_ends:
                        break
                if not failed:
                    lane.failures, lane.failing_since, lane.next_attempt_at = 0, None, None
                Attempt.objects.bulk_create(attempts)
                lane.save()
            if failed:
                return lane.next_attempt_at
            if timed_out or (until is not None and time.monotonic() > until):
                return timezone.now()
    finally:
        if conn is not None:
            conn.close()


def _drain_in_thread(webhook_id: int, number: int, until: float) -> datetime | None:
    try:
        return drain_lane(webhook_id, number, until=until)
    finally:
        connections.close_all()  # this thread's connections only


def deliver(*, webhook_id: int, seconds: float | None = None) -> datetime | None:
    """Number the account's new events, then drain every lane of the webhook
    side by side for at most ``seconds`` (``task_seconds()``). Returns the
    earliest time a lane wants to be tried again."""
    import time

    seconds = task_seconds() if seconds is None else seconds
    webhook = Webhook.objects.filter(pk=webhook_id, enabled=True).first()
    if webhook is None:
        return None
    sequence(account_id=webhook.account_id)
    ensure_lanes(webhook)
    until = time.monotonic() + seconds
    with ThreadPoolExecutor(max_workers=LANES, thread_name_prefix="webhook-lane") as pool:
        futures = [pool.submit(_drain_in_thread, webhook_id, n, until) for n in range(LANES)]
        wanted = [future.result() for future in futures]
    wanted = [when for when in wanted if when is not None]
    return min(wanted) if wanted else None


def send_once(*, webhook: Webhook, event: AccountEvent, kind: AttemptKind) -> Attempt:
    """One attempt outside the lanes ("send test event", "redeliver"): logged,
    not retried, and not moving any cursor."""
    conn = Connection(webhook.url)
    try:
        result = conn.send(secret=webhook.secret, event=event)
    finally:
        conn.close()
    return Attempt.objects.create(
        webhook=webhook,
        event=event,
        kind=kind,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        ok=result.ok,
        error=result.error,
    )
