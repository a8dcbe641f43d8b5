"""Inventory → Network events: what the packet core reported about the current
account's endpoints, and what came of it, newest first.

The table is paged by keyset on (time, id), so an old page costs what the first
one does, and the page runs the same queries whatever the filters; events are
kept 30 days (``purge_network_events``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render

from inventory.forms.events import EventFilterForm
from inventory.models import EventStatus, NetworkEvent
from inventory.selectors import filtered_events
from inventory.views.event_paging import paging_links
from network.batch import Reason
from portal.tenancy import member_required
from portal.time_cursor import newest_first_page

PAGE_SIZE = 50
FILTERS = ("type", "status", "from", "to", "endpoint")

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
    next_cursor = None
    if form.is_valid():
        events, next_cursor = newest_first_page(
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
            ),
            limit=PAGE_SIZE,
            field="at",
        )
        rows = [
            EventRow(
                event=event,
                badge=_STATUS_BADGES.get(event.status, "text-bg-light"),
                reason=REASON_LABELS.get(event.reason, event.reason.replace("_", " ")),
            )
            for event in events
        ]
    return render(
        request,
        "inventory/event_list.html",
        {
            "form": form,
            "rows": rows,
            **paging_links(request, filters=FILTERS, next_cursor=next_cursor),
        },
    )
