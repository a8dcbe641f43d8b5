"""Inventory → Activity: the account's event log, every account event of the
last 30 days whether or not a webhook wants it (docs/connectivity.md "Event
log"), newest first, filtered by type, endpoint and time.

Paged by keyset on (created_at, id) along the indexes ``accountevent_log*``,
so an old page costs what the first does; one view serves the page and its
HTMX fragment (the results), and every state of it is a link.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from events.models import AccountEvent, EventType
from events.selectors import account_events
from inventory.forms.activity import ActivityFilterForm
from inventory.views.event_paging import paging_links
from portal.tenancy import member_required
from portal.time_cursor import newest_first_page

PAGE_SIZE = 50
FILTERS = ("type", "endpoint", "from", "to")


def _network(value) -> str:
    if not value:
        return "an unreported network"
    name = value.get("operator") or f"PLMN {value.get('plmn')}"
    country = value.get("country_name")
    return f"{name} ({country})" if country else name


def describe(event: AccountEvent) -> str:
    """One line saying what happened, from the frozen payload."""
    data = event.payload or {}
    kind = event.type
    if kind in (EventType.STATE_CHANGED, EventType.CONNECTIVITY_RESET):
        text = f"{data.get('action', '')}: {data.get('from_state') or '—'} → {data.get('to_state')}"
        if data.get("reason"):
            text += f" ({data['reason']})"
        return text
    if kind == EventType.UPDATED:
        return "changed: " + ", ".join(sorted(data.get("changes", {})))
    if kind == EventType.SESSION_STARTED:
        return f"APN {data.get('apn') or '(primary)'}, address {data.get('ip') or '—'}"
    if kind == EventType.SESSION_REJECTED:
        return f"refused: {data.get('reason', '')}"
    if kind == EventType.NETWORK_CHANGED:
        return f"{_network(data.get('from'))} → {_network(data.get('to'))}"
    if kind == EventType.IMEI_CHANGED:
        return f"IMEI {data.get('from')} → {data.get('to')}"
    if kind == EventType.USAGE_WARNING:
        used, allowance = data.get("used_bytes", 0), data.get("allowance_bytes", 0)
        return f"{data.get('kind', '')}: {used:,} of {allowance:,} bytes"
    if kind == EventType.KEY_VALUES_CHANGED:
        return "keys: " + ", ".join(sorted(data.get("changes", {})))
    if kind == EventType.JOB_FINISHED:
        job = data.get("job", {})
        done = f"{job.get('changed', 0):,} of {job.get('total', 0):,}"
        return f"job #{job.get('id')} {job.get('action')} {job.get('state')}: {done}"
    return ""


@dataclass(frozen=True)
class ActivityRow:
    event: AccountEvent
    label: str
    iccid: str
    text: str


@member_required()
def activity_list(request):
    form = ActivityFilterForm(request.GET, account=request.account)
    rows: list[ActivityRow] = []
    next_cursor = None
    if form.is_valid():
        events, next_cursor = newest_first_page(
            account_events(account=request.account, filters=form.cleaned_data).only(
                "type", "endpoint_id", "payload", "created_at"
            ),
            limit=PAGE_SIZE,
            field="created_at",
        )
        labels = dict(EventType.choices)
        rows = [
            ActivityRow(
                event=event,
                label=labels.get(event.type, event.type),
                iccid=((event.payload or {}).get("endpoint") or {}).get("iccid", ""),
                text=describe(event),
            )
            for event in events
        ]
    context = {
        "form": form,
        "rows": rows,
        **paging_links(request, filters=FILTERS, next_cursor=next_cursor),
    }
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    template = "inventory/_partials/activity_results.html" if partial else "inventory/activity.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
