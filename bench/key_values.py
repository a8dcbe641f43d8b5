"""Section 10 of the benchmark: the ``kv=key:value`` filtered list page in the
portal and in the API (docs/key-values.md), with key values on every endpoint
of the measured account.

If the account has no key values yet they are loaded first, set-based, three
per endpoint: ``depot`` (20 values: a twentieth of the account each),
``contract`` (5 values) and ``vin`` (one endpoint each), and the table is
analysed. The network events section runs after this one, so it measures the
event path with the pairs present (the side table is not on that path; the
number should match a run without it).
"""

from __future__ import annotations

import time

from django.db import connection
from django.test import Client

from bench.measure import time_runs
from bench.pages import (
    LIST_TARGET_MS,
    PORTAL,
    PageError,
    Row,
    count_queries,
    endpoint_sql,
    get_ok,
    time_sql,
)
from bench.picks import Picks
from inventory.models import Endpoint, KeyValue

API_TARGET_MS = 30.0
API = "/api/v1/endpoints"

_ENDPOINTS = connection.ops.quote_name(Endpoint._meta.db_table)
_KEY_VALUES = connection.ops.quote_name(KeyValue._meta.db_table)

LOAD = f"""
INSERT INTO {_KEY_VALUES} (account_id, endpoint_id, key, value)
SELECT e.account_id, e.id, k.key, CASE k.key
    WHEN 'depot' THEN 'depot-' || (e.id %% 20)
    WHEN 'contract' THEN 'C-' || (e.id %% 5)
    ELSE 'VIN' || e.id END
FROM {_ENDPOINTS} e, (VALUES ('contract'), ('depot'), ('vin')) AS k(key)
WHERE e.account_id = %(account)s
"""


def load_pairs(p: Picks) -> Row:
    row = Row(section="13 key values", name="key values loaded", target="(setup)")
    present = KeyValue.objects.filter(account=p.account).exists()
    if present:
        row.value = f"{KeyValue.objects.filter(account=p.account).count():,} pairs, reused"
        return row
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(LOAD, {"account": p.account.pk})
        pairs = cursor.rowcount
        cursor.execute(f"ANALYZE {_KEY_VALUES}")
    row.value = f"{pairs:,} pairs in {time.monotonic() - started:.1f} s"
    return row


def _api_client(p: Picks) -> Client:
    from api.models import ApiToken
    from api.tokens import create_token

    ApiToken.objects.filter(account=p.account, name="bench-kv").delete()
    _, token = create_token(
        account=p.account, name="bench-kv", role="viewer", created_by=None, creator_role=None
    )
    return Client(headers={"Authorization": f"Bearer {token}"})


def measure_key_values(*, p: Picks, portal: Client, db_url: str, runs: int) -> list[Row]:
    rows = [load_pairs(p)]
    vin = f"VIN{p.endpoint.pk}"
    pages = [
        ("kv: a twentieth of the account", "kv=depot%3Adepot-7"),
        ("kv: one endpoint", f"kv=vin%3A{vin}"),
        ("kv + state", "kv=contract%3AC-3&state=active"),
        ("kv, sorted by last activity", "kv=depot%3Adepot-7&sort=-last_activity"),
    ]
    for name, query in pages:
        row = Row(
            section="13 key values", name=f"list {name}", target=f"<= {LIST_TARGET_MS:.0f} ms"
        )
        row.url = f"{PORTAL}?{query}"
        try:
            row.portal_queries, sql = count_queries(portal, row.url)
            row.floor_sql = endpoint_sql(sql)
            row.portal = time_runs(lambda u=row.url: get_ok(portal, u), runs=runs)
            row.floor = time_sql(db_url, row.floor_sql, runs=runs)
            row.met = row.portal.median_ms <= LIST_TARGET_MS
        except PageError as exc:
            row.error = str(exc)
        rows.append(row)
        print(f"  {row.name:<40} {row.portal.median_ms if row.portal else '-'} ms {row.error}")
    api = _api_client(p)
    for name, query in pages[:3]:
        row = Row(section="13 key values", name=f"API {name}", target=f"<= {API_TARGET_MS:.0f} ms")
        row.url = f"{API}?{query}&limit=100"
        try:
            row.portal_queries, _ = count_queries(api, row.url)
            row.portal = time_runs(lambda u=row.url: get_ok(api, u), runs=runs)
            row.met = row.portal.median_ms <= API_TARGET_MS
        except PageError as exc:
            row.error = str(exc)
        rows.append(row)
        print(f"  {row.name:<40} {row.portal.median_ms if row.portal else '-'} ms {row.error}")
    return rows
