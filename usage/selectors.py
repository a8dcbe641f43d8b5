"""Account-scoped reads of usage for the dashboard, the Usage tab and the list
(docs/usage.md). Each starts from the account and costs one query, read along
an account- or endpoint-leading index."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Sum

from inventory.models import Endpoint
from portal.models import Account
from usage.models import AccountDailyUsage, EndpointDailyUsage, EndpointMonthlyUsage


@dataclass(frozen=True)
class Day:
    day: dt.date
    bytes_up: int
    bytes_down: int

    @property
    def total(self) -> int:
        return self.bytes_up + self.bytes_down


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def month_start(day: dt.date | None = None) -> dt.date:
    return (day or today()).replace(day=1)


def _series(rows, days: int) -> list[Day]:
    """One ``Day`` for each of the last ``days`` UTC days, oldest first, zero
    where nothing was used."""
    by_day = {day: (up, down) for day, up, down in rows}
    last = today()
    return [
        Day(day, *by_day.get(day, (0, 0)))
        for day in (last - dt.timedelta(days=n) for n in range(days - 1, -1, -1))
    ]


def account_days(account: Account, *, days: int) -> list[Day]:
    first = today() - dt.timedelta(days=days - 1)
    rows = (
        AccountDailyUsage.objects.filter(account=account, day__gte=first)
        .values("day")
        .annotate(up=Sum("bytes_up"), down=Sum("bytes_down"))
        .values_list("day", "up", "down")
    )
    return _series(rows, days)


def endpoint_days(endpoint: Endpoint, *, days: int) -> list[Day]:
    first = today() - dt.timedelta(days=days - 1)
    rows = EndpointDailyUsage.objects.filter(
        endpoint=endpoint, account=endpoint.account_id, day__gte=first
    ).values_list("day", "bytes_up", "bytes_down")
    return _series(rows, days)


def endpoint_month_total(endpoint: Endpoint) -> int:
    row = EndpointMonthlyUsage.objects.filter(
        endpoint=endpoint, account=endpoint.account_id, month=month_start()
    ).first()
    return row.bytes_total if row else 0


def month_totals(account: Account, endpoint_ids: list[int]) -> dict[int, int]:
    """This month's bytes of each of ``endpoint_ids`` (the list's page)."""
    if not endpoint_ids:
        return {}
    return dict(
        EndpointMonthlyUsage.objects.filter(
            account=account, endpoint_id__in=endpoint_ids, month=month_start()
        ).values_list("endpoint_id", "bytes_total")
    )


def top_endpoints(account: Account, *, limit: int = 10) -> list[EndpointMonthlyUsage]:
    """The account's endpoints that used most this month (``endpoint`` loaded),
    read in order from the index ``endpointmonth_top``."""
    return list(
        EndpointMonthlyUsage.objects.filter(account=account, month=month_start(), bytes_total__gt=0)
        .select_related("endpoint")
        .order_by("-bytes_total", "endpoint_id")[:limit]
    )


_UNITS = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB"))


def human_bytes(value: int) -> str:
    """Decimal units, as allowances are sold: 1 MB = 10^6 bytes."""
    for size, unit in _UNITS:
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"
