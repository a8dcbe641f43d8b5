"""Inventory → Dashboard (``/inventory/``) and the endpoint's Usage tab
(docs/dashboard.md).

The dashboard reads only kept numbers, so its cost does not grow with the
fleet: the state counts (a handful of rows per account), the account's daily
usage, this month's top endpoints along ``endpointmonth_top``, the stale
endpoints along ``endpoint_acct_activity`` and the newest jobs. Every count
links to the endpoint list filtered the same way, where the same exact count
is shown.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.db.models import F
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from inventory.endpoint_page import base_context
from inventory.models import IN_SERVICE_STATES, Endpoint, State
from inventory.selectors import account_groups, endpoint_for
from jobs.selectors import account_jobs
from portal.tenancy import member_required
from usage import charts, counts, selectors

#: In service and silent this long: the dashboard's stale endpoints.
STALE_AFTER_DAYS = 7
#: The Usage tab's periods, in days.
PERIODS = (30, 90)
TOP = 10


def _list_url(**params) -> str:
    query = urlencode(params, doseq=True)
    return reverse("inventory:endpoint_list") + (f"?{query}" if query else "")


@member_required()
def dashboard(request):
    account = request.account
    kept = counts.account_counts(account)
    per_state = counts.by_state(kept)
    per_group = counts.by_group(kept)
    groups = account_groups(account)
    state_rows = [
        {
            "value": value,
            "label": label,
            "count": per_state.get(value, 0),
            "url": _list_url(state=value),
        }
        for value, label in State.choices
    ]
    group_rows = [
        {
            "group": group,
            "count": sum(per_group.get(group.pk, {}).values()),
            "url": _list_url(group=group.pk),
        }
        for group in groups
    ]
    days = selectors.account_days(account, days=30)
    since = timezone.now() - timedelta(days=STALE_AFTER_DAYS)
    in_service = [state.value for state in IN_SERVICE_STATES]
    # The ones that fell silent most recently, read along endpoint_acct_activity
    # from the cutoff backwards: 0.4 ms at 600,000 endpoints. The longest silent
    # first would walk past every suspended and terminated endpoint older than
    # them (116-188 ms); the list link sorts them that way.
    stale = list(
        Endpoint.objects.filter(account=account, last_activity__lt=since, state__in=in_service)
        .order_by(F("last_activity").desc(nulls_last=True), "iccid")
        .only("iccid", "name", "state", "last_activity")[:TOP]
    )
    context = {
        "total": sum(per_state.values()),
        "all_url": _list_url(),
        "state_rows": state_rows,
        "group_rows": group_rows,
        "days": days,
        "chart": charts.daily_usage(days, title="Data used per day, last 30 days"),
        "month_total": sum(day.total for day in days if day.day >= selectors.month_start()),
        "top": selectors.top_endpoints(account, limit=TOP),
        "stale": stale,
        "stale_days": STALE_AFTER_DAYS,
        "stale_url": _list_url(state=in_service, inactive=STALE_AFTER_DAYS, sort="last_activity"),
        "jobs": list(account_jobs(account=account).select_related("group")[:5]),
    }
    return render(request, "usage/dashboard.html", context)


@member_required()
def endpoint_usage(request, iccid: str):
    endpoint = endpoint_for(request.account, iccid)
    period = PERIODS[1] if request.GET.get("days") == str(PERIODS[1]) else PERIODS[0]
    days = selectors.endpoint_days(endpoint, days=period)
    context = base_context(request, endpoint, "usage")
    context.update(
        period=period,
        periods=PERIODS,
        days=list(reversed(days)),
        chart=charts.daily_usage(days, title=f"Data used per day, last {period} days"),
        period_total=sum(day.total for day in days),
        month_total=selectors.endpoint_month_total(endpoint),
    )
    return render(request, "usage/endpoint_usage.html", context)
