"""``python -m bench.event_log_indexes``: what the events table's indexes cost
one network batch's events INSERT (docs/connectivity.md "Measured").

The end-to-end ratios of ``bench.event_log_cost`` move by more than this on a
busy machine, so the statement is measured alone: one batch's events (the
statement ``network.writes.insert_account_events`` sends, captured) inserted
into three copies of the table side by side, alternating, each committed:
- ``before``: the indexes and constraints of events 0002, every event
  waiting for its number (``seq`` NULL), as the code before 0003 wrote them;
- ``now``: the table's own indexes, the event settled (no webhook wants it);
- ``no index``: the same rows into a table without any index (a floor).
Prints the medians, their ratio to ``before`` and the indexes' size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.event_log_cost import BASE_DIR

#: The events table's indexes and constraints as of events 0002.
BEFORE_INDEXES = (
    "ALTER TABLE {t} ADD PRIMARY KEY (id)",
    "CREATE INDEX ON {t} (account_id, lane, seq)",
    "CREATE INDEX ON {t} (account_id, id) WHERE seq IS NULL",
    "CREATE INDEX ON {t} (created_at)",
    "CREATE INDEX ON {t} (account_id, created_at DESC, id DESC)",
    "CREATE INDEX ON {t} (account_id, type, created_at DESC, id DESC)",
    "CREATE INDEX ON {t} (endpoint_id, created_at DESC, id DESC) WHERE endpoint_id IS NOT NULL",
    "ALTER TABLE {t} ADD UNIQUE (account_id, seq)",
)
TABLES = {
    "before": "bench_events_before",
    "now": "bench_events_now",
    "no index": "bench_events_bare",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.event_log_indexes")
    parser.add_argument("--endpoints", type=int, default=150_000)
    parser.add_argument("--database", default="bench_event_log")
    parser.add_argument("--statements", type=int, default=100, help="INSERTs per table")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(BASE_DIR))
    from bench import database
    from bench.run import prepare_database

    args.fresh = False
    prepare_database(args, database.server_url(), time.monotonic())

    from django.db import connection, transaction

    from events import outbox
    from events.models import NOT_WANTED

    sql, params = _captured_statement()
    statements = {
        # Before: every event waits for its number.
        "before": sql.replace(outbox.EVENTS, TABLES["before"]).replace(
            f"CASE WHEN w.account_id IS NULL THEN {NOT_WANTED} END", "NULL"
        ),
        "now": sql.replace(outbox.EVENTS, TABLES["now"]),
        "no index": sql.replace(outbox.EVENTS, TABLES["no index"]),
    }
    assert all(table in statements[name] for name, table in TABLES.items())
    _create_tables()
    times: dict[str, list[float]] = {name: [] for name in statements}
    try:
        for i in range(args.statements):
            order = list(statements.items())
            for name, statement in order if i % 2 else reversed(order):
                began = time.perf_counter()
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(statement, params)
                    cursor.fetchall()
                times[name].append(time.perf_counter() - began)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(f"pg_indexes_size('{t}')" for t in TABLES.values())
            )
            sizes = dict(zip(TABLES, cursor.fetchone(), strict=True))
            cursor.execute(f"SELECT count(*) FROM {TABLES['now']}")
            rows = cursor.fetchone()[0] // args.statements
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS " + ", ".join(TABLES.values()))
    before = statistics.median(times["before"])
    print(f"{rows} events per INSERT, {args.statements} INSERTs per table, alternating")
    for name, measured in times.items():
        median = statistics.median(measured)
        print(
            f"  {name:<9} {median * 1000:7.2f} ms   ratio {median / before:.3f}"
            f"   indexes {sizes[name] / 2**20:6.1f} MiB"
        )
    return 0


def _captured_statement() -> tuple[str, dict]:
    """The events INSERT of one network batch, as sent: the batch is applied
    with its events' write captured instead of run."""
    from django.db import connection

    from bench.event_log_cost import network_batches
    from network import batch as network
    from network import writes

    outcomes: list = []
    real = writes.insert_account_events
    writes.insert_account_events = outcomes.append
    try:
        network.apply_events(events=network_batches()())
    finally:
        writes.insert_account_events = real
    sent: list = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, params))
        raise _Captured

    try:
        with connection.execute_wrapper(capture):
            real(outcomes[0])
    except _Captured:
        pass
    return sent[0]


class _Captured(Exception):
    pass


def _create_tables() -> None:
    from django.db import connection

    from events import outbox

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS " + ", ".join(TABLES.values()))
        cursor.execute(f"CREATE TABLE {TABLES['now']} (LIKE {outbox.EVENTS} INCLUDING ALL)")
        for name in ("before", "no index"):
            cursor.execute(
                f"CREATE TABLE {TABLES[name]} (LIKE {outbox.EVENTS} "
                "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING CONSTRAINTS)"
            )
        for statement in BEFORE_INDEXES:
            cursor.execute(statement.format(t=TABLES["before"]))


if __name__ == "__main__":
    raise SystemExit(main())
