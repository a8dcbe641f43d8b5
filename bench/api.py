"""Section 11: the customer API (docs/api.md). ``GET /api/v1/endpoints`` with
100 rows for the list cases of section 1, beside the bare SQL of the same
request and a naive ninja view with offset pagination (bench/naive_api.py);
the detail and a PATCH; throughput from 10 clients through gunicorn.

Requests run in-process through Django's test client (the whole request:
middleware, auth, view, serialisation), as the list pages of section 1 do.
"""

from __future__ import annotations

import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import cpu
from bench.loadgen import Request, run_load
from bench.measure import summarise, time_runs
from bench.pages import PageError, Row, time_sql
from bench.picks import Picks
from bench.server import Gunicorn

LIST = "/api/v1/endpoints"
NAIVE = "/naive-api/endpoints"
LIMIT = 100
LIST_TARGET_MS = 30.0
DETAIL_TARGET_MS = 10.0
THROUGHPUT_TARGET = 200.0
CLIENTS = 10
#: A naive page slower than this is timed a few times only.
SLOW_S = 2.0


def _get(client: Client, url: str, params: dict, headers: dict):
    response = client.get(url, params, headers=headers)
    if response.status_code != 200:
        raise PageError(f"GET {url} {params} answered {response.status_code}")
    return response


def _data_sql(client: Client, url: str, params: dict, headers: dict) -> tuple[int, list[str]]:
    """(queries of the request, the SQL of those that read the data: not the
    token lookup). The token's ``last_used_at``, written at most once a minute
    (api/auth.py), is not the page's: whichever request falls on the minute
    sends it, and counted it made one case of a run look like 5 queries."""
    with CaptureQueriesContext(connection) as ctx:
        _get(client, url, params, headers)
    sql = [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith('UPDATE "api_apitoken" SET "last_used_at"')
    ]
    return len(sql), [s for s in sql if "api_apitoken" not in s]


def _deep_cursor(client: Client, headers: dict, rows: int) -> tuple[str | None, int]:
    cursor, walked = None, 0
    while walked < rows:
        params = {"limit": min(1000, rows - walked), **({"cursor": cursor} if cursor else {})}
        body = _get(client, LIST, params, headers).json()
        walked += len(body["results"])
        cursor = body["next"]
        if not cursor:
            break
    return cursor, walked


def cases(p: Picks, deep_cursor: str | None) -> list[tuple[str, dict, dict | None]]:
    """(name, our parameters, the naive view's parameters or None)."""
    e = p.endpoint
    deep_offset = p.deep_rows
    listed = [
        ("unfiltered", {}, {}),
        ("state = active", {"state": "active"}, {"state": "active"}),
        (f"group {p.group.name}", {"group": p.group.name}, {"group": p.group.name}),
        (f"tag {p.tag}", {"tag": p.tag}, {"tag": p.tag}),
        (
            "state + group + tag",
            {"state": "idle", "group": p.combo_group.name, "tag": p.tag},
            {"state": "idle", "group": p.combo_group.name, "tag": p.tag},
        ),
        ("q full ICCID", {"q": e.iccid}, {"q": e.iccid}),
        ("q ICCID suffix (6)", {"q": e.iccid[-6:]}, {"q": e.iccid[-6:]}),
        ("q full IMSI", {"q": p.imsi}, {"q": p.imsi}),
        ("q name fragment", {"q": p.name_fragment}, {"q": p.name_fragment}),
        ("sort -last_activity", {"sort": "-last_activity"}, {"ordering": "-last_activity"}),
        ("sort group", {"sort": "group"}, {"ordering": "primary_group__name"}),
    ]
    if deep_cursor:
        listed.append(
            (
                f"deep page ({p.deep_rows:,} rows in)",
                {"cursor": deep_cursor},
                {"offset": deep_offset},
            )
        )
    return listed


def measure_api(*, p: Picks, db_url: str, runs: int, seconds: float) -> list[Row]:
    from api.tokens import create_token
    from portal.models import Role

    record, plain = create_token(
        account=p.account,
        name=f"bench-{time.time_ns()}",
        role=Role.ADMIN,
        created_by=None,
        creator_role=None,
    )
    headers = {"Authorization": f"Bearer {plain}"}
    client = Client(raise_request_exception=False)
    rows: list[Row] = []
    try:
        deep_cursor, walked = _deep_cursor(client, headers, p.deep_rows)
        counts = []
        for name, ours, naive in cases(p, deep_cursor):
            row = Row(
                section="11 API", name=f"GET {LIST} {name}", target=f"<= {LIST_TARGET_MS:.0f} ms"
            )
            params = {**ours, "limit": LIMIT}
            row.url = f"{LIST}?{params}"
            try:
                row.portal_queries, sql = _data_sql(client, LIST, params, headers)
                counts.append(row.portal_queries)
                row.portal = time_runs(lambda q=params: _get(client, LIST, q, headers), runs=runs)
                row.floor_sql = sql
                row.floor = time_sql(db_url, sql, runs=runs)
            except PageError as exc:
                row.error = str(exc)
            if naive is not None:
                naive_params = {"limit": LIMIT, **naive}
                try:
                    started = time.perf_counter()
                    row.admin_queries, _ = _data_sql(client, NAIVE, naive_params, headers)
                    slow = time.perf_counter() - started > SLOW_S
                    row.admin = time_runs(
                        lambda q=naive_params: _get(client, NAIVE, q, headers),
                        runs=min(runs, 3) if slow else runs,
                        warmup=0 if slow else 2,
                    )
                except PageError as exc:
                    row.note = f"naive: {exc}"
            if row.portal:
                row.met = row.portal.median_ms <= LIST_TARGET_MS
            print(f"  {row.name:<60} {_ms(row.portal)} (naive {_ms(row.admin)}) {row.error}")
            rows.append(row)
        queries = Row(section="11 API", name="queries per API list page", target="constant")
        queries.value = "/".join(str(n) for n in sorted(set(counts)))
        queries.met = bool(counts) and len(set(counts)) == 1
        rows.append(queries)
        rows += _detail_and_patch(p=p, client=client, headers=headers, db_url=db_url, runs=runs)
        rows.append(_throughput(p=p, db_url=db_url, token=plain, seconds=seconds, deep=deep_cursor))
    finally:
        record.delete()
    return rows


def _detail_and_patch(*, p: Picks, client: Client, headers: dict, db_url: str, runs: int):
    url = f"{LIST}/{p.endpoint.iccid}"
    detail = Row(
        section="11 API", name=f"GET {LIST}/{{iccid}}", target=f"<= {DETAIL_TARGET_MS:.0f} ms"
    )
    detail.portal_queries, sql = _data_sql(client, url, {}, headers)
    detail.portal = time_runs(lambda: _get(client, url, {}, headers), runs=runs)
    detail.floor_sql = sql
    detail.floor = time_sql(db_url, sql, runs=runs)
    detail.met = detail.portal.median_ms <= DETAIL_TARGET_MS
    patch = Row(section="11 API", name=f"PATCH {LIST}/{{iccid}} (name)", target="(none)")
    original = p.endpoint.name
    names = iter(range(10**6))

    def edit():
        response = client.patch(
            url, {"name": f"bench {next(names)}"}, content_type="application/json", headers=headers
        )
        if response.status_code != 200:
            raise PageError(f"PATCH answered {response.status_code}: {response.content[:200]}")

    try:
        patch.portal = time_runs(edit, runs=runs)
        patch.note = "one History row per PATCH"
    except PageError as exc:
        patch.error = str(exc)
    finally:
        client.patch(url, {"name": original}, content_type="application/json", headers=headers)
    for row in (detail, patch):
        print(f"  {row.name:<60} {_ms(row.portal)} {row.error}")
    return [detail, patch]


def _throughput(*, p: Picks, db_url: str, token: str, seconds: float, deep: str | None) -> Row:
    from urllib.parse import urlencode

    row = Row(
        section="11 API",
        name=f"GET {LIST} under load, {CLIENTS} clients",
        target=f">= {THROUGHPUT_TARGET:.0f} req/s",
    )
    urls = [
        f"{LIST}?{urlencode({**ours, 'limit': LIMIT}, doseq=True)}" for _, ours, _ in cases(p, deep)
    ]
    headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
    try:
        with Gunicorn(database_url=db_url) as server, cpu.Meter(server.process.pid) as meter:
            result = run_load(
                host="127.0.0.1",
                port=server.port,
                clients=CLIENTS,
                duration=seconds,
                next_request=lambda client, n: Request(
                    urls[(client + n) % len(urls)], headers=headers
                ),
            )
        usage = meter.usage(result.requests)
        ok = result.statuses.get(200, 0)
        if result.latencies:
            row.portal = summarise(result.latencies)
        row.value = f"{result.per_second:.1f} req/s"
        row.met = result.per_second >= THROUGHPUT_TARGET and ok == result.requests
        row.note = (
            f"{result.seconds:.0f} s, {ok:,}/{result.requests:,} answered 200, "
            f"rotating over {len(urls)} list URLs; {usage.note()}"
        )
        row.extra = usage.as_dict()
        if ok != result.requests:
            row.error = f"non-200 answers: {dict(result.statuses)}"
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {exc}"
    print(f"  {row.name:<60} {row.value} {row.note} {row.error}")
    return row


def _ms(timing) -> str:
    return f"{timing.median_ms:.1f} ms" if timing else "—"
