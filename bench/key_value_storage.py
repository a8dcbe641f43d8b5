"""``python -m bench.key_value_storage``: where an endpoint's key values should
live, measured (docs/key-values.md).

Two copies of the endpoint table's hot shape (account, ICCID, state, last
activity, with the list's account-leading indexes), each with the same key
values: one holds them in a JSONB column with a GIN (``jsonb_path_ops``)
index, the other in a side table keyed by (endpoint, key) with an index on
(account, key, md5(value)). Measured on each:

- the network events' write: one ``UPDATE`` of state and last activity for a
  batch of random endpoints (never HOT, since both columns are indexed, so
  every index of the row gets a new entry, the GIN one included);
- the list's ``kv=key:value`` first page (50 rows by ICCID) for a rare pair
  and for one half of the account carries.

It works in a throw-away database of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent

SCHEMA = """
CREATE TABLE ep_jsonb (
    id bigint PRIMARY KEY, account_id int NOT NULL, iccid text COLLATE "C" NOT NULL,
    state text NOT NULL, last_activity timestamptz, key_values jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE ep_side (
    id bigint PRIMARY KEY, account_id int NOT NULL, iccid text COLLATE "C" NOT NULL,
    state text NOT NULL, last_activity timestamptz
);
CREATE FUNCTION kv_digest(key text, value text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN RETURN sha256(convert_to(key || ':' || value, 'UTF8')); END $$;
CREATE TABLE kv_side (
    id bigserial PRIMARY KEY, account_id int NOT NULL, endpoint_id bigint NOT NULL,
    key text COLLATE "C" NOT NULL, value text NOT NULL
);
"""

INDEXES = """
CREATE UNIQUE INDEX ON ep_jsonb (iccid);
CREATE INDEX ON ep_jsonb (account_id, iccid);
CREATE INDEX ON ep_jsonb (account_id, state, iccid);
CREATE INDEX ON ep_jsonb (account_id, last_activity DESC NULLS LAST, iccid);
CREATE INDEX ep_jsonb_kv ON ep_jsonb USING gin (key_values jsonb_path_ops);
CREATE UNIQUE INDEX ON ep_side (iccid);
CREATE INDEX ON ep_side (account_id, iccid);
CREATE INDEX ON ep_side (account_id, state, iccid);
CREATE INDEX ON ep_side (account_id, last_activity DESC NULLS LAST, iccid);
CREATE UNIQUE INDEX ON kv_side (endpoint_id, key);
CREATE INDEX ON kv_side (account_id, kv_digest(key, value), endpoint_id);
"""

#: Endpoints get ``pairs`` keys each: ``k0`` … ; ``fleet`` is half "a", half
#: "b"; ``vin`` is unique per endpoint (the rare pair).
LOAD = """
INSERT INTO ep_side (id, account_id, iccid, state, last_activity)
SELECT n, 1, '89440' || lpad(n::text, 14, '0'), 'idle', now() - n * interval '1 s'
FROM generate_series(1, %(endpoints)s) AS n;
INSERT INTO kv_side (account_id, endpoint_id, key, value)
SELECT 1, n, 'k' || k, 'value-' || (n %% 97) || '-' || k
FROM generate_series(1, %(endpoints)s) AS n, generate_series(1, %(pairs)s - 2) AS k;
INSERT INTO kv_side (account_id, endpoint_id, key, value)
SELECT 1, n, 'fleet', CASE WHEN n %% 2 = 0 THEN 'a' ELSE 'b' END
FROM generate_series(1, %(endpoints)s) AS n;
INSERT INTO kv_side (account_id, endpoint_id, key, value)
SELECT 1, n, 'vin', 'VIN' || n FROM generate_series(1, %(endpoints)s) AS n;
INSERT INTO ep_jsonb (id, account_id, iccid, state, last_activity, key_values)
SELECT e.id, e.account_id, e.iccid, e.state, e.last_activity, kv.pairs
FROM ep_side e
JOIN (SELECT endpoint_id, jsonb_object_agg(key, value) AS pairs FROM kv_side
      GROUP BY endpoint_id) AS kv ON kv.endpoint_id = e.id;
"""

UPDATE = """
UPDATE {table} SET state = CASE state WHEN 'idle' THEN 'active' ELSE 'idle' END,
       last_activity = now()
WHERE id = ANY(%(ids)s)
"""

PAGE_JSONB = """
SELECT id, iccid FROM ep_jsonb
WHERE account_id = 1 AND key_values @> jsonb_build_object(%(key)s::text, %(value)s::text)
ORDER BY iccid LIMIT 51
"""
PAGE_SIDE = """
SELECT id, iccid FROM ep_side e
WHERE account_id = 1 AND EXISTS (
    SELECT 1 FROM kv_side kv WHERE kv.endpoint_id = e.id AND kv.account_id = 1
    AND kv_digest(kv.key, kv.value) = kv_digest(%(key)s, %(value)s))
ORDER BY iccid LIMIT 51
"""


def _ms(conn, sql: str, params: dict, *, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.execute(sql, params).fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _wal(conn) -> int:
    return conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]


def _updates(conn, table: str, *, endpoints: int, batch: int, runs: int) -> tuple[float, float]:
    """Median ms of one event batch's UPDATE, and WAL bytes per updated row
    (the GIN's pending list flushed at the end, so its merge is counted)."""
    rnd = random.Random(17)
    timings = []
    wal_before = _wal(conn)
    for _ in range(runs):
        ids = sorted(rnd.sample(range(1, endpoints + 1), batch))
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(UPDATE.format(table=table), {"ids": ids})
        timings.append((time.perf_counter() - started) * 1000)
    if table == "ep_jsonb":
        conn.execute("SELECT gin_clean_pending_list('ep_jsonb_kv')")
    per_row = (_wal(conn) - wal_before) / (runs * batch)
    return statistics.median(timings), per_row


def measure(db_url: str, *, endpoints: int, pairs: int, batch: int, runs: int) -> dict:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        started = time.monotonic()
        for statement in filter(str.strip, LOAD.split(";")):
            conn.execute(statement, {"endpoints": endpoints, "pairs": pairs})
        conn.execute(INDEXES)
        conn.execute("VACUUM ANALYZE")
        load_s = time.monotonic() - started
        sizes = dict(
            conn.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
                " WHERE relname IN ('ep_jsonb', 'ep_side', 'kv_side', 'ep_jsonb_kv')"
            ).fetchall()
        )
        result = {
            "endpoints": endpoints,
            "pairs": pairs,
            "batch": batch,
            "load_s": round(load_s, 1),
            "mb": {name: round(size / 2**20, 1) for name, size in sizes.items()},
        }
        for table in ("ep_side", "ep_jsonb"):
            _updates(conn, table, endpoints=endpoints, batch=batch, runs=2)  # warm
            ms, wal = _updates(conn, table, endpoints=endpoints, batch=batch, runs=runs)
            result[f"update_{table}_ms"] = round(ms, 1)
            result[f"update_{table}_wal_bytes_per_row"] = round(wal)
        for label, key, value in (("rare", "vin", f"VIN{endpoints // 2}"), ("half", "fleet", "a")):
            for name, sql in (("jsonb", PAGE_JSONB), ("side", PAGE_SIDE)):
                params = {"key": key, "value": value}
                _ms(conn, sql, params, runs=2)
                if "--explain" in sys.argv:
                    plan = conn.execute("EXPLAIN ANALYZE " + sql, params).fetchall()
                    print("\n".join(line for (line,) in plan))
                result[f"page_{label}_{name}_ms"] = round(_ms(conn, sql, params, runs=runs), 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.key_value_storage", description=__doc__)
    parser.add_argument("--endpoints", type=int, default=200_000)
    parser.add_argument("--pairs", type=int, default=10, help="key values per endpoint (≥ 3)")
    parser.add_argument("--batch", type=int, default=2_000, help="endpoints per event UPDATE")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--smoke", action="store_true", help="10,000 endpoints, 3 runs")
    parser.add_argument("--explain", action="store_true", help="print the filter plans")
    args = parser.parse_args(argv)
    if args.smoke:
        args.endpoints, args.runs, args.batch = 10_000, 3, 500
    sys.path.insert(0, str(BASE_DIR))
    from bench import database

    server = database.server_url()
    name = "bench_kv_storage"
    db_url = database.ensure_database(server, name, fresh=True)
    try:
        result = measure(
            db_url, endpoints=args.endpoints, pairs=args.pairs, batch=args.batch, runs=args.runs
        )
    finally:
        database.drop_database(server, name)
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
