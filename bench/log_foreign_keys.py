"""``python -m bench.log_foreign_keys``: what the foreign keys of the log rows
would cost a job's chunk (docs/benchmark.md "Foreign keys of the logs").

Whole jobs vary by more than this from run to run on a busy machine, so one
chunk's work is measured alone, paired and interleaved: a suspend of 5,000
in-service endpoints through ``inventory.lifecycle`` with its deferred checks
fired (``SET CONSTRAINTS ALL IMMEDIATE``), rolled back; every other run first
re-adds the constraints the log tables no longer have, ``NOT VALID`` (no scan
of the rows already there; the new rows are checked as before). Each run takes
endpoints no other run took. Prints both medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.event_log_cost import BASE_DIR

#: (table, column, referenced table): the links that have no database constraint.
LINKS = (
    ("inventory_history", "account_id", "portal_account"),
    ("inventory_history", "endpoint_id", "inventory_endpoint"),
    ("inventory_history", "actor_id", "auth_user"),
    ("inventory_sessionteardown", "account_id", "portal_account"),
    ("inventory_sessionteardown", "endpoint_id", "inventory_endpoint"),
    ("webhooks_accountevent", "account_id", "portal_account"),
    ("inventory_networkevent", "account_id", "portal_account"),
    ("inventory_networkevent", "endpoint_id", "inventory_endpoint"),
    ("inventory_networkevent", "group_id", "inventory_group"),
)


class _Rollback(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.log_foreign_keys")
    parser.add_argument("--endpoints", type=int, default=1_000_000)
    parser.add_argument("--database", default="bench_1m")
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=6, help="runs of each kind")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    from bench import database
    from bench.run import prepare_database

    args.fresh = False
    prepare_database(args, database.server_url(), time.monotonic())

    from django.db import connection, transaction

    from bench.picks import choose
    from inventory import lifecycle
    from inventory.history import Actor
    from inventory.models import IN_SERVICE_STATES, Endpoint

    picks = choose()
    actor = Actor.for_user(picks.operator)
    ids = list(
        Endpoint.objects.filter(account=picks.account, state__in=IN_SERVICE_STATES)
        .order_by("id")
        .values_list("id", flat=True)[: 2 * args.rounds * args.chunk]
    )
    if len(ids) < 2 * args.rounds * args.chunk:
        raise SystemExit(f"only {len(ids):,} in-service endpoints; lower --rounds or --chunk")
    took: dict[bool, list[float]] = {True: [], False: []}
    for run in range(2 * args.rounds):
        checked = run % 2 == (run // 2) % 2  # ABBA: neither kind always goes first
        chunk = ids[run * args.chunk : (run + 1) * args.chunk]
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if checked:
                    for n, (table, column, target) in enumerate(LINKS):
                        cursor.execute(
                            f"ALTER TABLE {table} ADD CONSTRAINT bench_link_{n} "
                            f"FOREIGN KEY ({column}) REFERENCES {target} (id) "
                            "DEFERRABLE INITIALLY DEFERRED NOT VALID"
                        )
                started = time.perf_counter()
                lifecycle.suspend(
                    endpoints=Endpoint.objects.filter(id__in=chunk), actor=actor, reason="bench"
                )
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                took[checked].append(time.perf_counter() - started)
                raise _Rollback
        except _Rollback:
            pass
    medians = {kind: statistics.median(times) * 1000 for kind, times in took.items()}
    for kind, label in ((True, "with the foreign keys"), (False, "without")):
        runs = ", ".join(f"{t * 1000:.0f}" for t in took[kind])
        print(f"{label:<22} median {medians[kind]:6.0f} ms  ({runs})")
    print(f"ratio {medians[True] / medians[False]:.2f}x for a suspend of {args.chunk:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
