"""Inventory → Network events: what the packet core reported about the current
account's endpoints, and what came of it, newest first.

The table is paged by keyset on (time, id), so an old page costs what the first
one does, and the page runs the same queries whatever the filters; events are
kept 30 days (``purge_network_events``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render
from django.utils.http import urlencode

from inventory.forms.events import EventFilterForm
from inventory.models import EventStatus, NetworkEvent
from inventory.selectors import cursor_for, filtered_events
from network.batch import Reason
from portal.tenancy import member_required

PAGE_SIZE = 50

#: How the API's reason codes read on the page.
REASON_LABELS = {
    Reason.UNKNOWN_IMSI: "unknown IMSI",
    Reason.PENDING: "endpoint pending (not in a group)",
    Reason.SUSPENDED: "endpoint suspended",
    Reason.TERMINATED: "endpoint terminated",
    Reason.UNKNOWN_APN: "APN not in the endpoint's groups",
    Reason.IMEI_MISMATCH: "IMEI does not match the lock",
    Reason.OPERATOR_NOT_ALLOWED: "network not allowed by the group's operator policy",
    Reason.SUBNET_FULL: "no free address in the subnet",
    Reason.OLDER_THAN_LAST_ACTIVITY: "older than the last activity",
    Reason.ALREADY_RECEIVED: "already received",
}

_STATUS_BADGES = {
    EventStatus.ACCEPTED: "text-bg-success",
    EventStatus.REJECTED: "text-bg-danger",
    EventStatus.STALE: "text-bg-secondary",
    EventStatus.DUPLICATE: "text-bg-light border",
    EventStatus.INVALID: "text-bg-warning",
}


@dataclass(frozen=True)
class EventRow:
    event: NetworkEvent
    badge: str
    reason: str


@member_required()
def event_list(request):
    form = EventFilterForm(request.GET)
    rows: list[EventRow] = []
    next_cursor = ""
    if form.is_valid():
        events = list(
            filtered_events(account=request.account, filters=form.cleaned_data)
            .select_related("endpoint", "group")
            .only(
                "at",
                "type",
                "imsi",
                "apn",
                "status",
                "reason",
                "ip",
                "endpoint__iccid",
                "group__name",
            )[: PAGE_SIZE + 1]
        )
        if len(events) > PAGE_SIZE:
            events = events[:PAGE_SIZE]
            next_cursor = cursor_for(events[-1])
        rows = [
            EventRow(
                event=event,
                badge=_STATUS_BADGES.get(event.status, "text-bg-light"),
                reason=REASON_LABELS.get(event.reason, event.reason.replace("_", " ")),
            )
            for event in events
        ]
    filters = {
        key: value
        for key, value in request.GET.items()
        if key in ("type", "status", "from", "to", "endpoint") and value
    }
    return render(
        request,
        "inventory/event_list.html",
        {
            "form": form,
            "rows": rows,
            "first_page": not request.GET.get("cursor"),
            "newest_url": "?" + urlencode(filters) if filters else "?",
            "older_url": "?" + urlencode({**filters, "cursor": next_cursor}) if next_cursor else "",
            "filtered": bool(filters),
        },
    )
