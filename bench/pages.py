"""Sections 1–4: list pages through the portal and through stock admin, the
bare SQL under each portal page, the detail page and the CSV export.

Pages are requested in-process with Django's test client, so "server time" is
the whole request through middleware, view and template, without the network.
"""

from __future__ import annotations

import html
import re
import time
import tracemalloc
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.measure import Timing, time_runs
from bench.picks import Picks

PORTAL = "/inventory/endpoints/"
ADMIN = "/stock-admin/inventory/endpoint/"
ICCID_RE = re.compile(r"\b89[0-9]{17,18}\b")
#: The list's largest page size, used only to walk down to the deep page quickly.
WALK_PAGE_SIZE = 250
LIST_TARGET_MS = 100.0
#: A stock admin page slower than this is timed SLOW_RUNS times, not 15.
SLOW_S = 2.0
SLOW_RUNS = 3
ADMIN_SPEEDUP_TARGET = 5.0


class PageError(RuntimeError):
    pass


@dataclass
class Page:
    name: str
    portal: str | None  # query string of the portal list (None: not measured)
    admin: str | None  # query string of the stock admin changelist (None: it has no such filter)
    #: Searches and deep pages must also be 5x faster than stock admin.
    versus_admin: bool = False
    note: str = ""


@dataclass
class Row:
    section: str
    name: str
    portal: Timing | None = None
    portal_queries: int | None = None
    admin: Timing | None = None
    admin_queries: int | None = None
    floor: Timing | None = None
    floor_sql: list[str] = field(default_factory=list)
    target: str = ""
    met: bool | None = None
    value: str = ""  # for figures that are not a page time (rows/s, MB…)
    note: str = ""
    error: str = ""
    url: str = ""
    admin_url: str = ""
    extra: dict = field(default_factory=dict)


def get_ok(client: Client, url: str):
    response = client.get(url)
    if response.status_code != 200:
        raise PageError(f"GET {url} answered {response.status_code}")
    return response


def count_queries(client: Client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        get_ok(client, url)
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def endpoint_sql(queries: list[str]) -> list[str]:
    """The queries of a list request that read endpoints: the page and its count
    (session, user, membership and group-choice lookups are left out)."""
    return [sql for sql in queries if '"inventory_endpoint"' in sql or "inventory_endpoint " in sql]


#: The session settings of the portal's own connections (config/settings.py),
#: so that the floor runs the plans the portal gets.
FLOOR_OPTIONS = "-c max_parallel_workers_per_gather=0"


def time_sql(db_url: str, statements: list[str], *, runs: int) -> Timing:
    with psycopg.connect(db_url, autocommit=True, options=FLOOR_OPTIONS) as conn:

        def run() -> None:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                    cursor.fetchall()

        return time_runs(run, runs=runs)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[dict, str]] = []
        self._open: dict | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data):
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.links.append((self._open, "".join(self._text).strip()))
            self._open = None


def next_link(page_html: str) -> str | None:
    """The list's "Next" link: rel="next", else the link labelled Next."""
    parser = _Links()
    parser.feed(page_html)
    for attrs, text in parser.links:
        href = attrs.get("href") or ""
        if href and ("next" in (attrs.get("rel") or "").split() or text.lower().startswith("next")):
            return html.unescape(href)
    return None


def with_params(url: str, **params) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(("", "", parts.path or PORTAL, urlencode(query), ""))


def deep_cursor(client: Client, *, rows: int) -> tuple[str, int, int]:
    """Walk the Next links from page 1 until ``rows`` rows lie behind; return the
    URL of the next 50 rows there, how many rows were walked and in how many pages."""
    url = f"{PORTAL}?per_page={WALK_PAGE_SIZE}"
    walked = pages = 0
    while walked < rows:
        body = get_ok(client, url).content.decode()
        shown = len(set(ICCID_RE.findall(body)))
        found = next_link(body)
        if not shown or not found:
            raise PageError(f"no Next link after {walked:,} rows ({pages} pages)")
        walked += shown
        pages += 1
        url = found if found.startswith("/") else PORTAL + found
    return with_params(url, per_page=50), walked, pages


def list_pages(p: Picks, deep_url: str) -> list[Page]:
    e = p.endpoint
    deep_query = urlsplit(deep_url).query
    admin_deep = max(1, p.deep_rows // 50)
    return [
        Page("unfiltered", "", ""),
        Page("state = active", "state=active", "state__exact=active"),
        Page(
            f"group {p.group.name}", f"group={p.group.pk}", f"primary_group__id__exact={p.group.pk}"
        ),
        Page(f"tag {p.tag}", urlencode({"tag": p.tag}), None, note="stock admin has no tag filter"),
        Page(
            "state + group + tag",
            urlencode({"state": "idle", "group": p.combo_group.pk, "tag": p.tag}),
            f"state__exact=idle&primary_group__id__exact={p.combo_group.pk}",
            note="stock admin: state + group only",
        ),
        Page("q full ICCID", f"q={e.iccid}", f"q={e.iccid}", True),
        Page("q ICCID suffix (6)", f"q={e.iccid[-6:]}", f"q={e.iccid[-6:]}", True),
        Page("q full IMSI", f"q={p.imsi}", f"q={p.imsi}", True),
        Page(
            "q name fragment",
            urlencode({"q": p.name_fragment}),
            urlencode({"q": p.name_fragment}),
            True,
        ),
        Page(
            "q reference fragment",
            urlencode({"q": p.reference_fragment}),
            urlencode({"q": p.reference_fragment}),
            True,
        ),
        Page("sort -last_activity", "sort=-last_activity", "o=-5"),
        # By the group's name: stock admin orders by the group's Meta ordering (name).
        Page("sort group", "sort=group", "o=4"),
        Page("sort -group", "sort=-group", "o=-4"),
        Page(f"deep page ({p.deep_rows:,} rows in)", deep_query, f"p={admin_deep}", True),
    ]


def measure_lists(
    *, p: Picks, portal: Client, admin: Client, db_url: str, runs: int, deep_url: str
) -> list[Row]:
    rows = []
    for page in list_pages(p, deep_url):
        row = Row(section="1-3 list", name=page.name, note=page.note)
        row.url = f"{PORTAL}?{page.portal}" if page.portal else PORTAL
        try:
            row.portal_queries, sql = count_queries(portal, row.url)
            row.floor_sql = endpoint_sql(sql)
            row.portal = time_runs(lambda u=row.url: get_ok(portal, u), runs=runs)
            row.floor = time_sql(db_url, row.floor_sql, runs=runs)
        except PageError as exc:
            row.error = str(exc)
        if page.admin is not None:
            row.admin_url = f"{ADMIN}?{page.admin}" if page.admin else ADMIN
            try:
                started = time.perf_counter()
                row.admin_queries, _ = count_queries(admin, row.admin_url)
                admin_runs, warmup = runs, 2
                if time.perf_counter() - started > SLOW_S:
                    # Seconds a page: a few runs settle the ratio; fifteen would take minutes.
                    admin_runs, warmup = min(runs, SLOW_RUNS), 0
                    row.note = f"{row.note}; stock admin: {admin_runs} runs".strip("; ")
                row.admin = time_runs(
                    lambda u=row.admin_url: get_ok(admin, u), runs=admin_runs, warmup=warmup
                )
            except PageError as exc:
                row.note = f"{row.note}; stock admin: {exc}".strip("; ")
        row.target = f"<= {LIST_TARGET_MS:.0f} ms" + (
            f", >= {ADMIN_SPEEDUP_TARGET:.0f}x admin" if page.versus_admin else ""
        )
        if row.portal:
            met = row.portal.median_ms <= LIST_TARGET_MS
            if page.versus_admin and row.admin:
                met = met and row.admin.median_ms / row.portal.median_ms >= ADMIN_SPEEDUP_TARGET
            row.met = met
        print(
            f"  {row.name:<34} {_ms(row.portal)} (admin {_ms(row.admin)}) {row.error}", flush=True
        )
        rows.append(row)
    return rows


def measure_query_counts(*, portal: Client, rows: list[Row]) -> Row:
    """The same number of queries whatever the page size or the filter."""
    row = Row(section="1 list", name="queries per list page", target="constant")
    by_size = {}
    try:
        for size in (25, 50, 100, 250):
            by_size[size], _ = count_queries(portal, f"{PORTAL}?per_page={size}")
    except PageError as exc:
        row.error = str(exc)
        return row
    by_page = {r.name: r.portal_queries for r in rows if r.portal_queries is not None}
    distinct = sorted(set(by_size.values()) | set(by_page.values()))
    row.value = "/".join(str(n) for n in distinct)
    row.met = len(set(by_size.values())) == 1 and max(distinct) - min(distinct) <= 1
    row.extra = {"by_page_size": by_size, "by_page": by_page}
    row.note = "per_page 25/50/100/250: " + "/".join(str(by_size[s]) for s in sorted(by_size))
    return row


def measure_detail(*, p: Picks, portal: Client, runs: int) -> list[Row]:
    rows = []
    for name, suffix in (("detail page", ""), ("detail: history tab", "history/")):
        row = Row(section="4 detail", name=name, target="(none; list target)")
        row.url = f"{PORTAL}{p.endpoint.iccid}/{suffix}"
        try:
            row.portal_queries, _ = count_queries(portal, row.url)
            row.portal = time_runs(lambda u=row.url: get_ok(portal, u), runs=runs)
            row.met = row.portal.median_ms <= LIST_TARGET_MS
        except PageError as exc:
            row.error = str(exc)
        rows.append(row)
    return rows


def _stream(client: Client, url: str) -> tuple[int, int]:
    response = client.get(url)
    if response.status_code != 200:
        raise PageError(f"GET {url} answered {response.status_code}")
    size = lines = 0
    chunks = response.streaming_content if response.streaming else [response.content]
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\n")
    return size, lines


def _rss_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _memory(client: Client, url: str) -> tuple[float, float | None]:
    """Peak Python allocation (tracemalloc) and peak RSS growth, in MB, while
    streaming ``url``."""
    rss_ok = _reset_peak_rss()
    before = _rss_kib("VmRSS")
    tracemalloc.start()
    try:
        _stream(client, url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss = (_rss_kib("VmHWM") - before) / 1024 if rss_ok else None
    return peak / 2**20, rss


def measure_export(*, p: Picks, portal: Client, runs: int) -> list[Row]:
    param, value = p.export_filter
    url = f"{PORTAL}export.csv?{urlencode({param: value})}"
    small_url = f"{PORTAL}export.csv?{p.small_export_filter}"
    timed = Row(section="4 export", name=f"CSV export ({param}={value})", url=url)
    memory = Row(section="4 export", name="CSV export peak memory", url=url)
    memory.target = "constant memory"
    timed.target = "(streams)"
    try:
        with CaptureQueriesContext(connection) as ctx:
            size, lines = _stream(portal, url)
        timed.portal_queries = len(ctx.captured_queries)
        started = time.perf_counter()
        timed.portal = time_runs(lambda: _stream(portal, url), runs=runs, warmup=1)
        timed.value = f"{lines - 1:,} rows, {size / 2**20:.1f} MB"
        timed.extra = {
            "rows": lines - 1,
            "bytes": size,
            "seconds_total": time.perf_counter() - started,
        }
        _, small_lines = _stream(portal, small_url)
        peak_big, rss_big = _memory(portal, url)
        peak_small, rss_small = _memory(portal, small_url)
        memory.value = (
            f"{peak_big:.1f} MB at {lines - 1:,} rows vs {peak_small:.1f} MB at {small_lines - 1:,}"
        )
        memory.extra = {
            "tracemalloc_peak_mb": {
                lines - 1: round(peak_big, 2),
                small_lines - 1: round(peak_small, 2),
            },
            "rss_growth_mb": {lines - 1: rss_big, small_lines - 1: rss_small},
        }
        memory.note = f"RSS growth {rss_big} MB vs {rss_small} MB" if rss_big is not None else ""
        if small_lines > 5_000:
            # Constant: several times the rows may not need more than 1.5x the memory.
            memory.met = peak_big <= peak_small * 1.5 + 2
        else:
            memory.note = "too few rows to judge; " + memory.note
    except PageError as exc:
        timed.error = memory.error = str(exc)
    return [timed, memory]


def _ms(timing: Timing | None) -> str:
    return f"{timing.median_ms:8.1f} ms" if timing else "       —   "
