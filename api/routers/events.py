"""``GET /api/v1/events``: the account's event log, every account event of the
last 30 days whether or not a webhook wants it (docs/connectivity.md "Event
log"); the filters and keyset of the portal's Activity page."""

from __future__ import annotations

from typing import Annotated

from ninja import Query, Router

from api.list_query import CursorQuery, FromQuery, IccidQuery, ToQuery, filter_data
from api.problems import query_refused
from api.responses import answers
from api.schemas.events import AccountEventPage, EventTypeName
from events.selectors import account_events
from inventory.forms.activity import ActivityFilterForm
from portal.time_cursor import newest_first_page

router = Router(tags=["events"])
MAX_LIMIT = 1_000


@router.get(
    "",
    response=answers({200: AccountEventPage}),
    summary="List account events",
    operation_id="list_events",
)
def list_events(
    request,
    type: Annotated[EventTypeName | None, Query()] = None,
    endpoint: IccidQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: CursorQuery = None,
):
    """Newest first, kept 30 days; pass ``next`` back as ``cursor``. ``data``
    is the payload as webhooks receive it."""
    data = filter_data(type=type, endpoint=endpoint, start=start, end=end, cursor=cursor)
    form = ActivityFilterForm(data, account=request.account)
    if not form.is_valid():
        raise query_refused(form, {"start": "from", "end": "to"})
    events, next_cursor = newest_first_page(
        account_events(account=request.account, filters=form.cleaned_data).only(
            "type", "endpoint_id", "payload", "created_at"
        ),
        limit=limit,
        field="created_at",
    )
    return {
        "results": [
            {
                "id": event.pk,
                "type": event.type,
                "iccid": ((event.payload or {}).get("endpoint") or {}).get("iccid"),
                "created_at": event.created_at,
                "data": event.payload,
            }
            for event in events
        ],
        "next": next_cursor,
    }
