"""Section 12: webhooks. A bulk suspend of up to 100,000 endpoints (in the
chunks a job uses, each chunk writing its events in its own transaction)
drained by a real worker process (``--queues webhooks``) to a local receiver
that verifies every signature; then the change-to-delivery latency of single
suspends on an idle system; then section 7's network events load with a
webhook subscribed to every type, so that every session writes its events.

Targets (docs/webhooks.md): >= 1,000 deliveries/s, 100k drained in <= 2 min,
median latency <= 1 s, network >= 5,000 events/s with events on. Everything is
undone afterwards (the endpoints by the snapshot, the webhook and its events
deleted)."""

from __future__ import annotations

import time

from django.db import connection

from bench.jobs import Worker
from bench.measure import percentile
from bench.pages import Row
from bench.picks import Picks
from bench.snapshot import Snapshot
from events.models import AccountEvent
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import IN_SERVICE_STATES, Endpoint
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import SUBSCRIBABLE, Attempt, Webhook

CHUNK = 5_000
DELIVERIES_TARGET = 1_000
DRAIN_TARGET_S = 120.0
LATENCY_TARGET_S = 1.0
_IN_SERVICE = [str(s) for s in IN_SERVICE_STATES]


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return False


def measure_webhooks(
    *, p: Picks, db_url: str, size: int, samples: int, seconds: float
) -> list[Row]:
    from bench.http_load import measure_events

    ids = list(
        Endpoint.objects.filter(account=p.account, state__in=_IN_SERVICE)
        .order_by("pk")
        .values_list("pk", flat=True)[: size + samples]
    )
    burst, singles = ids[:size], ids[size:]
    snapshot = Snapshot("e.id = ANY(%s)", [ids])
    snapshot.take()
    receiver = Receiver().start()
    webhook = services.create_webhook(
        account=p.account,
        spec=services.WebhookSpec(url=receiver.url, event_types=[t.value for t in SUBSCRIBABLE]),
    )
    receiver.secret = webhook.secret
    drain = Row(
        section="12 webhooks",
        name=f"bulk suspend of {len(burst):,}: events drained to a receiver",
        target=f">= {DELIVERIES_TARGET:,} deliveries/s, <= {DRAIN_TARGET_S:.0f} s",
    )
    latency = Row(
        section="12 webhooks",
        name=f"change-to-delivery latency, idle ({len(singles)} single suspends)",
        target=f"median <= {LATENCY_TARGET_S:.0f} s",
    )
    rows = [drain, latency]
    try:
        with Worker(database_url=db_url, queues="webhooks"):
            time.sleep(2.0)  # the worker starts listening
            started = time.monotonic()
            for start in range(0, len(burst), CHUNK):
                chunk = burst[start : start + CHUNK]
                lifecycle.suspend(
                    endpoints=Endpoint.objects.filter(account=p.account, pk__in=chunk),
                    actor=Actor.SYSTEM,
                )
            written = time.monotonic() - started
            done = _wait(lambda: len(receiver.received) >= len(burst), timeout=600)
            took = time.monotonic() - started
            got = len(set(receiver.ids()))
            rate = got / took if took else 0.0
            drain.value = f"{rate:,.0f} deliveries/s, drained in {took:.1f} s"
            drain.met = done and rate >= DELIVERIES_TARGET and took <= DRAIN_TARGET_S
            drain.note = (
                f"{got:,} of {len(burst):,} events verified; the suspends took {written:.1f} s; "
                f"{receiver.connections} connections (keep-alive), "
                f"{receiver.bad_signatures} bad signatures"
            )
            drain.extra = {"seconds": round(took, 2), "delivered": got, "suspend_s": written}
            if not done:
                drain.error = f"only {got:,} of {len(burst):,} arrived within 600 s"

            waits = []
            for pk in singles:
                before = len(receiver.received)
                t0 = time.monotonic()
                lifecycle.suspend(
                    endpoints=Endpoint.objects.filter(account=p.account, pk=pk),
                    actor=Actor.SYSTEM,
                )
                if _wait(lambda before=before: len(receiver.received) > before, timeout=30):
                    waits.append(time.monotonic() - t0)
                time.sleep(0.2)
            if waits:
                median, p95 = percentile(waits, 0.5), percentile(waits, 0.95)
                latency.value = f"median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
                latency.met = median <= LATENCY_TARGET_S
                latency.extra = {"samples_s": [round(w, 4) for w in waits]}
            if len(waits) < len(singles):
                latency.error = f"{len(singles) - len(waits)} of {len(singles)} never arrived"

    except Exception as exc:
        drain.error = drain.error or f"{type(exc).__name__}: {exc}"
    finally:
        # Section 7's load takes a snapshot of its own (the same tables).
        snapshot.restore()
        snapshot.drop()
    try:
        events = measure_events(p=p, db_url=db_url, seconds=seconds)
        events.section = "12 webhooks"
        events.name = "network events with a webhook wanting every type"
        in_outbox = AccountEvent.objects.filter(account=p.account).count() - len(ids)
        events.note += f"; {in_outbox:,} account events written"
        rows.append(events)
    finally:
        receiver.stop()
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {connection.ops.quote_name(Attempt._meta.db_table)} "
                "WHERE webhook_id = %(w)s",
                {"w": webhook.pk},
            )
        Webhook.objects.filter(pk=webhook.pk).delete()
        AccountEvent.objects.filter(account=p.account).delete()
    for row in rows:
        print(f"  {row.name:<60} {row.value} {row.error}", flush=True)
    return rows
