"""Section 16: every filter × sort combination of the endpoint list and of
``GET /api/v1/endpoints``, the first page of each, and the slowest of them.

Section 1 times a dozen chosen pages; a plan that goes wrong only for one
pairing (``sort=group`` with ``state=pending`` read every group to its end,
571 ms) shows up only when every pairing is asked for. The filters are each
state, the largest, a small and an empty group, a tag, a key value, the five
kinds of search, "inactive for", and a few combinations, among them one that
matches nothing; each with every sort the list offers. Each page is requested
once untimed, then ``runs`` times; the row reports the slowest median and how
many pages are over the target. Target: none above 100 ms (docs/product.md).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.db.models import Count
from django.test import Client

from bench.measure import time_runs
from bench.pages import PORTAL, PageError, Row, get_ok
from bench.picks import Picks
from inventory.models import Group, KeyValue, State
from inventory.pagination import SORTS

API = "/api/v1/endpoints"
TARGET_MS = 100.0
#: The slowest pages listed in the note of each row.
SHOWN = 5


def _groups(p: Picks) -> tuple[Group, Group, Group | None]:
    """The largest group, the smallest that holds endpoints, and an empty one."""
    groups = list(
        Group.objects.filter(account=p.account)
        .annotate(n=Count("primary_endpoints"))
        .order_by("-n", "name")
    )
    filled = [g for g in groups if g.n]
    empty = next((g for g in groups if not g.n), None)
    return filled[0], filled[-1], empty


def filters(p: Picks) -> list[tuple[str, dict, dict | None]]:
    """(name, the list's parameters, the API's parameters or None if it has no such filter)."""
    largest, smallest, empty = _groups(p)
    pair = KeyValue.objects.filter(account=p.account).values_list("key", "value").first()
    kv = f"{pair[0]}:{pair[1]}" if pair else "depot:depot-7"
    e = p.endpoint
    cases: list[tuple[str, dict, dict | None]] = [("no filter", {}, {})]
    cases += [(f"state={s}", {"state": s}, {"state": s}) for s in State.values]
    for label, group in (("largest", largest), ("smallest", smallest), ("empty", empty)):
        if group is not None:
            cases.append((f"{label} group", {"group": group.pk}, {"group": group.name}))
    cases += [
        ("tag", {"tag": p.tag}, {"tag": p.tag}),
        ("kv", {"kv": kv}, {"kv": kv}),
        ("q full ICCID", {"q": e.iccid}, {"q": e.iccid}),
        ("q ICCID suffix", {"q": e.iccid[-6:]}, {"q": e.iccid[-6:]}),
        ("q full IMSI", {"q": p.imsi}, {"q": p.imsi}),
        ("q name fragment", {"q": p.name_fragment}, {"q": p.name_fragment}),
        ("q reference start", {"q": p.reference_fragment}, {"q": p.reference_fragment}),
        ("inactive 30 days", {"inactive": 30}, None),
        (
            "state + group + tag",
            {"state": "idle", "group": largest.pk, "tag": p.tag},
            {"state": "idle", "group": largest.name, "tag": p.tag},
        ),
        (
            "pending in the largest group (none)",
            {"state": "pending", "group": largest.pk},
            {"state": "pending", "group": largest.name},
        ),
        (
            "two states + tag",
            {"state": ["suspended", "detached"], "tag": p.tag},
            {"state": ["suspended", "detached"], "tag": p.tag},
        ),
        ("kv + state", {"kv": kv, "state": "active"}, {"kv": kv, "state": "active"}),
    ]
    return cases


def _api_client(p: Picks) -> Client:
    from api.models import ApiToken
    from api.tokens import create_token

    ApiToken.objects.filter(account=p.account, name="bench-combinations").delete()
    _, token = create_token(
        account=p.account,
        name="bench-combinations",
        role="viewer",
        created_by=None,
        creator_role=None,
    )
    return Client(headers={"Authorization": f"Bearer {token}"})


def _walk(name: str, client: Client, urls: list[tuple[str, str]], runs: int) -> Row:
    row = Row(section="18 combinations", name=name, target=f"none > {TARGET_MS:.0f} ms")
    timed: list[tuple[float, str]] = []
    started = time.monotonic()
    for label, url in urls:
        try:
            timing = time_runs(lambda u=url: get_ok(client, u), runs=runs, warmup=1)
        except PageError as exc:
            row.error = f"{label}: {exc}"
            return row
        timed.append((timing.median_ms, label))
    timed.sort(reverse=True)
    over = [label for ms, label in timed if ms > TARGET_MS]
    slowest_ms, slowest = timed[0]
    row.value = f"slowest {slowest_ms:.1f} ms ({slowest}); {len(over)} of {len(timed)} over"
    row.note = "; ".join(f"{label} {ms:.0f}" for ms, label in timed[:SHOWN])
    row.met = not over
    row.url = dict(urls)[slowest]
    row.extra = {
        "pages": len(timed),
        "seconds": round(time.monotonic() - started, 1),
        "median_ms": {label: round(ms, 2) for ms, label in timed},
    }
    print(f"  {name}: {row.value}", flush=True)
    for ms, label in timed[:SHOWN]:
        print(f"    {ms:8.1f} ms  {label}", flush=True)
    return row


def measure_combinations(*, p: Picks, portal: Client, runs: int) -> list[Row]:
    cases = filters(p)
    list_urls = [
        (f"{name}, sort={sort}", f"{PORTAL}?{urlencode({**params, 'sort': sort}, doseq=True)}")
        for name, params, _ in cases
        for sort in SORTS
    ]
    api_urls = [
        (
            f"{name}, sort={sort}",
            f"{API}?{urlencode({**params, 'sort': sort, 'limit': 100}, doseq=True)}",
        )
        for name, _, params in cases
        if params is not None
        for sort in SORTS
    ]
    return [
        _walk("list: every filter x sort, first page", portal, list_urls, runs),
        _walk("API: every filter x sort, 100 rows", _api_client(p), api_urls, runs),
    ]
