"""``python -m bench.event_log_cost``: what storing every account event costs
(docs/connectivity.md "Measured").

Before the event log, an event was inserted only for an account with a webhook
wanting its type; now every event is. Both ways are run here in one process
on the same data, alternating, so that the machine's noise falls on both:
- a 100,000-endpoint suspend as the job runner does it (chunks of 5,000, one
  statement each), with the events INSERT as it is and as it was (``WHERE`` a
  webhook wants it; the account has none);
- network batches of 500 events (section 7's mix, with ``plmn`` and ``rat``),
  with the events written, as it was (the same rows built and sent, the
  INSERT ``WHERE`` a webhook wants them: none), and with the events' write
  left out altogether (a floor: what no event log nor webhook would cost).
Each round restores the endpoints it changed. Prints medians and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.event_log_cost")
    parser.add_argument("--endpoints", type=int, default=150_000)
    parser.add_argument("--database", default="bench_event_log")
    parser.add_argument("--job", type=int, default=100_000, help="endpoints the job suspends")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=10, help="network batches per round")
    parser.add_argument(
        "--parts", default="job,network", help="which to measure: job, network or both"
    )
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    from bench import database
    from bench.run import prepare_database

    server = database.server_url()
    args.fresh = False
    prepare_database(args, server, time.monotonic())
    parts = set(args.parts.split(","))
    try:
        job = _job_rounds(args) if "job" in parts else None
        batch = _batch_rounds(args) if "network" in parts else None
    finally:
        if args.drop:
            from django.db import connection

            connection.close()
            database.drop_database(server, args.database)
    measured = []
    if job:
        measured.append(("job", *job, "only wanted"))
    if batch:
        measured.append(("network batch", batch[0], batch[1], "only wanted"))
        measured.append(("network batch", batch[0], batch[2], "no event write"))
    for name, stored, other, label in measured:
        a, b = statistics.median(stored), statistics.median(other)
        # Each round runs the variants back to back: the median of the rounds'
        # own ratios is steadier than the ratio of medians on a busy machine.
        paired = statistics.median(x / y for x, y in zip(stored, other, strict=True))
        print(
            f"{name:<14} every event stored {a * 1000:8.0f} ms   {label} {b * 1000:8.0f} ms"
            f"   ratio {a / b:.3f}   median of the rounds' ratios {paired:.3f}"
        )
    return 0


def _job_rounds(args) -> tuple[list[float], list[float]]:
    from django.db import connection

    from events import outbox
    from events.models import AccountEvent
    from inventory import lifecycle
    from inventory.history import Actor
    from inventory.models import Endpoint, History, SessionTeardown, State
    from webhooks.models import Webhook

    real = lifecycle._events_insert
    current = real()
    # As it was: written only where a webhook wants the type.
    only_wanted = current.replace(
        "FROM upd u) x RETURNING",
        f"FROM upd u) x WHERE {outbox.subscribed('x.account_id', 'x.type')} RETURNING",
    )
    assert only_wanted != current
    account_id = (
        Endpoint.objects.filter(state=State.ACTIVE)
        .values("account_id")
        .order_by("account_id")
        .first()["account_id"]
    )
    Webhook.objects.filter(account_id=account_id).delete()
    ids = list(
        Endpoint.objects.filter(account_id=account_id, state__in=lifecycle._IN_SERVICE)
        .order_by("pk")
        .values_list("pk", "state", "state_changed_at")[: args.job]
    )
    print(f"job: suspending {len(ids):,} endpoints in chunks of 5,000, {args.rounds} rounds each")
    stored, filtered = [], []
    variants = [(current, stored), (only_wanted, filtered)]
    for round_ in range(args.rounds):
        # Each variant goes first in every other round: the first job after
        # the VACUUM below runs on colder caches.
        for sql, times in _rotated(variants, round_):
            lifecycle._events_insert = lambda sql=sql: sql
            batch = uuid.uuid4()
            began = time.monotonic()
            for start in range(0, len(ids), 5_000):
                chunk = [pk for pk, _, _ in ids[start : start + 5_000]]
                lifecycle.suspend(
                    endpoints=Endpoint.objects.filter(pk__in=chunk),
                    actor=Actor.SYSTEM,
                    batch=batch,
                )
            times.append(time.monotonic() - began)
            lifecycle._events_insert = real
            # Back as they were, for the next round.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Endpoint._meta.db_table} e SET state = v.state, "
                    "state_changed_at = v.at FROM unnest(%s::bigint[], %s::text[], "
                    "%s::timestamptz[]) AS v(id, state, at) WHERE e.id = v.id",
                    [[i[0] for i in ids], [i[1] for i in ids], [i[2] for i in ids]],
                )
            History.objects.filter(batch=batch).delete()
            SessionTeardown.objects.filter(endpoint_id__in=[i[0] for i in ids]).delete()
            AccountEvent.objects.filter(account_id=account_id).delete()
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            print(f"  stored {stored[-1:]} / only wanted {filtered[-1:]}", flush=True)
    return stored, filtered


def network_batches():
    """A function giving the next network batch of 500 events each time it is
    called (section 7's mix over the first 20,000 endpoints in service)."""
    from bench.http_load import PLMNS, RATS
    from inventory.models import IMSI, State

    imsis = list(
        IMSI.objects.filter(endpoint__state__in=[State.ACTIVE, State.IDLE, State.DETACHED])
        .order_by("endpoint_id")
        .values_list("imsi", flat=True)[:20_000]
    )
    kinds = ("attach", "session_start", "session_update", "session_end", "detach")
    start = datetime.now(UTC) - timedelta(minutes=30)
    counter = iter(range(10**9))

    def batch_of_500() -> list[dict]:
        events = []
        for _ in range(500):
            k = next(counter)
            device = k % len(imsis)
            kind = kinds[(k // len(imsis)) % len(kinds)]
            event = {
                "id": f"cost-{uuid.uuid4().hex}",
                "type": kind,
                "imsi": imsis[device],
                "at": (start + timedelta(microseconds=100 * k)).isoformat(),
                # Each device stays on its network, as in section 7. (Taken
                # from the event's number, 20,000 devices moved every device
                # to another network at every event: a network_changed event
                # for nearly every network event, which no fleet sends.)
                "plmn": PLMNS[device % len(PLMNS)],
                "rat": RATS[device % len(RATS)],
            }
            if kind in ("session_update", "session_end"):
                event["bytes_up"], event["bytes_down"] = 1_000, 10_000
            events.append(event)
        return events

    return batch_of_500


def _batch_rounds(args) -> tuple[list[float], list[float], list[float]]:
    from django.db import connection

    from events import outbox
    from network import batch as network
    from network import writes

    batch_of_500 = network_batches()
    real = writes.insert_account_events
    # As it was: the same statement, its INSERT only where a webhook wants the type.
    order = "ORDER BY v.n "
    as_it_was = f"WHERE {outbox.subscribed('v.account_id', 'v.type')} {order}"

    def only_wanted(execute, sql, params, many, context):
        if f"INSERT INTO {outbox.EVENTS}" in sql:
            assert order in sql
            sql = sql.replace(order, as_it_was)
        return execute(sql, params, many, context)

    def filtered_write(outcomes) -> None:
        with connection.execute_wrapper(only_wanted):
            real(outcomes)

    stored, filtered, none = [], [], []
    variants = [(real, stored), (filtered_write, filtered), (lambda outcomes: None, none)]
    print(f"network: {args.batches} batches of 500 per variant, {args.rounds} rounds")
    for round_ in range(args.rounds):
        # A batch on the new connection first, unmeasured (its caches are
        # cold), and each variant first in turn.
        network.apply_events(events=batch_of_500())
        for write, times in _rotated(variants, round_):
            writes.insert_account_events = write
            began = time.monotonic()
            for _ in range(args.batches):
                network.apply_events(events=batch_of_500())
            times.append((time.monotonic() - began) / args.batches)
            writes.insert_account_events = real
        connection.close()
        print(
            f"  stored {stored[-1]:.3f} s / only wanted {filtered[-1]:.3f} s"
            f" / no event write {none[-1]:.3f} s",
            flush=True,
        )
    return stored, filtered, none


def _rotated(variants: list, round_: int) -> list:
    """``variants`` starting at the ``round_``-th: each goes first in turn."""
    start = round_ % len(variants)
    return [*variants[start:], *variants[:start]]


if __name__ == "__main__":
    raise SystemExit(main())
