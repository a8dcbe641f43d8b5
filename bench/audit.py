"""Section 14: the audit log page and its CSV export, with as many audit rows
in the benchmark account as the load has endpoints (1,000,000 at full scale),
spread over the year the log keeps, plus the sign-ins of its members.

The rows are written once per database, set-based (INSERT … SELECT over
generate_series); a rerun reuses them.
"""

from __future__ import annotations

from django.db import connection
from django.test import Client

from audit.models import AuditAction, AuditActorKind, AuditEvent
from bench.measure import time_runs
from bench.pages import Row, count_queries, get_ok
from bench.picks import Picks, long_standing_admin

ADMIN = "bench-audit-admin"
LOG = "/account/audit-log/"
EXPORT = "/account/audit-log/export/"
TARGET_MS = 100.0
#: One action in a hundred is a role change: the selective filter.
RARE = AuditAction.MEMBER_ROLE_CHANGED

_TABLE = connection.ops.quote_name(AuditEvent._meta.db_table)


def load(*, p: Picks, rows: int, actor) -> int:
    """Write ``rows`` audit rows of the account (and a tenth as many sign-ins of
    its admin) unless they are there; return how many the account has."""
    have = AuditEvent.objects.filter(account=p.account).count()
    if have >= rows:
        return have
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (account_id, actor_id, actor_kind, actor_label, action, ip,"
            " target, details, created_at) "
            "SELECT %(account)s, %(actor)s, %(kind)s, %(label)s,"
            " CASE WHEN n %% 100 = 0 THEN %(rare)s ELSE %(common)s END,"
            " '192.0.2.1', 'job ' || n, jsonb_build_object('job', n),"
            " now() - make_interval(secs => (%(rows)s - n) * 31536000.0 / %(rows)s) "
            "FROM generate_series(1, %(rows)s) AS n",
            {
                "account": p.account.pk,
                "actor": actor.pk,
                "kind": AuditActorKind.USER,
                "label": actor.get_username(),
                "rare": RARE,
                "common": AuditAction.BULK_JOB_STARTED,
                "rows": rows - have,
            },
        )
        cursor.execute(
            f"INSERT INTO {_TABLE} (account_id, actor_id, actor_kind, actor_label, action, ip,"
            " target, details, created_at) "
            "SELECT NULL, %(actor)s, %(kind)s, %(label)s, %(action)s, '192.0.2.2', '', '{}',"
            " now() - make_interval(secs => n * 3600) "
            "FROM generate_series(1, %(signins)s) AS n",
            {
                "actor": actor.pk,
                "kind": AuditActorKind.USER,
                "label": actor.get_username(),
                "action": AuditAction.SIGN_IN,
                "signins": max(1, (rows - have) // 10),
            },
        )
        cursor.execute(f"ANALYZE {_TABLE}")
    return AuditEvent.objects.filter(account=p.account).count()


def measure_audit(*, p: Picks, rows: int, runs: int) -> list[Row]:
    actor = long_standing_admin(p.account, ADMIN)
    count = load(p=p, rows=rows, actor=actor)
    client = Client(raise_request_exception=False)
    client.force_login(actor)
    middle = (
        AuditEvent.objects.filter(account=p.account).order_by("id").values_list("id", flat=True)
    )[count // 2]
    day = AuditEvent.objects.filter(account=p.account, pk=middle).get().created_at.date()
    pages = [
        ("first page", LOG),
        ("a page half a year back (keyset)", f"{LOG}?before={middle}"),
        (f"filter: {RARE.label} (1 %)", f"{LOG}?action={RARE.value}"),
        ("filter: actor", f"{LOG}?actor={ADMIN}"),
        ("filter: one day half a year back", f"{LOG}?since={day}&until={day}"),
    ]
    out = []
    for name, url in pages:
        row = Row(section="14 audit log", name=name, target=f"≤ {TARGET_MS:.0f} ms", url=url)
        try:
            row.portal_queries, _ = count_queries(client, url)
            row.portal = time_runs(lambda u=url: get_ok(client, u), runs=runs)
            row.met = row.portal.median_ms <= TARGET_MS
        except Exception as exc:  # a failed page is reported, the others still run
            row.error = f"{type(exc).__name__}: {exc}"
        out.append(row)
    row = Row(section="14 audit log", name=f"CSV export: {RARE.label}", url=EXPORT)
    try:
        lines = []

        def export() -> None:
            response = client.get(f"{EXPORT}?action={RARE.value}")
            lines.append(sum(chunk.count(b"\n") for chunk in response.streaming_content))

        row.portal = time_runs(export, runs=max(1, runs // 3), warmup=1)
        row.value = f"{lines[-1] - 1:,} rows of {count:,}"
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {exc}"
    out.append(row)
    return out
