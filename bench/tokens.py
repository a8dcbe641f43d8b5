"""Section 16: the API tokens page (Account → API tokens) with many tokens in
the benchmark account: the first page, a filtered page and the last page
(docs/api.md "Tokens"). The tokens are written once per database, set-based
(INSERT … SELECT over generate_series, hashes no token has); a rerun reuses
them."""

from __future__ import annotations

from django.db import connection
from django.test import Client

from api.models import ApiToken
from api.views import PAGE_SIZE
from bench.measure import time_runs
from bench.pages import Row, count_queries, get_ok
from bench.picks import Picks, long_standing_admin

ADMIN = "bench-tokens-admin"
PAGE = "/account/api-tokens/"
TARGET_MS = 100.0
_TABLE = connection.ops.quote_name(ApiToken._meta.db_table)


def load(*, p: Picks, tokens: int) -> int:
    """``tokens`` tokens of the account (a tenth revoked, a third never used,
    made by five creators over two years) unless there are that many."""
    have = ApiToken.objects.filter(account=p.account).count()
    if have >= tokens:
        return have
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (account_id, name, role, token_hash, prefix, created_by_id,"
            " created_by_label, created_at, expires_at, last_used_at, revoked_at,"
            " revoked_because, capped_from) "
            "SELECT %(account)s, 'bench-' || n, (ARRAY['viewer','operator','admin'])[1 + n %% 3],"
            " md5('bench-token-' || n) || md5('bench-token-x' || n), 'epk_bench',"
            " NULL, 'creator-' || (n %% 5),"
            " now() - make_interval(secs => (%(tokens)s - n) * 63072000.0 / %(tokens)s), NULL,"
            " CASE WHEN n %% 3 = 0 THEN NULL"
            "      ELSE now() - make_interval(days => n %% 200) END,"
            " CASE WHEN n %% 10 = 0 THEN now() ELSE NULL END,"
            " CASE WHEN n %% 10 = 0 THEN 'admin' ELSE '' END, '' "
            "FROM generate_series(%(first)s, %(tokens)s) AS n",
            {"account": p.account.pk, "tokens": tokens, "first": have + 1},
        )
        cursor.execute(f"ANALYZE {_TABLE}")
    return ApiToken.objects.filter(account=p.account).count()


def measure_tokens(*, p: Picks, tokens: int, runs: int) -> list[Row]:
    client = Client(raise_request_exception=False)
    client.force_login(long_standing_admin(p.account, ADMIN))
    count = load(p=p, tokens=tokens)
    last = -(-count // PAGE_SIZE)
    pages = [
        ("first page", PAGE),
        (
            "filter: creator, used more than 90 days ago",
            f"{PAGE}?creator=creator-3&used=stale&days=90",
        ),
        ("filter: admin tokens never used", f"{PAGE}?role=admin&used=never"),
        (f"the last page ({last})", f"{PAGE}?page={last}"),
    ]
    out = []
    for name, url in pages:
        row = Row(
            section="16 API tokens page",
            name=f"{name}, {count:,} tokens",
            target=f"≤ {TARGET_MS:.0f} ms",
            url=url,
        )
        try:
            row.portal_queries, _ = count_queries(client, url)
            row.portal = time_runs(lambda u=url: get_ok(client, u), runs=runs)
            row.met = row.portal.median_ms <= TARGET_MS
        except Exception as exc:  # a failed page is reported, the others still run
            row.error = f"{type(exc).__name__}: {exc}"
        out.append(row)
    return out
