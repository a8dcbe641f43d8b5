"""Inventory → Endpoints: the list with its filters, sorting, keyset pages and
CSV export.

One view serves the full page and, for HTMX requests, only the results fragment
(table, count, pagination), so filtering, sorting and paging swap the table and
push the URL; every state of the list is a plain link that works without
JavaScript. A page costs a constant number of queries whatever its size: the
account's groups, one page of rows, one count: exact from the kept counts
when the list is filtered by state and group only, else bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from inventory import export as csv_export
from inventory import pagination as listing
from inventory.filters import FILTER_PARAMS, EndpointFilterSet, clean_view_query
from inventory.models import Endpoint, Group, State
from inventory.selectors import account_groups
from inventory.tables import OPTIONAL_COLUMNS, ColumnSpec, EndpointRows, column_specs
from portal.tenancy import member_required
from usage import counts
from usage.models import StateCount
from usage.selectors import month_totals

#: The filters the kept counts answer exactly (any other keeps the bounded count).
EXACT_FILTERS = ("state", "group")

#: Parameters that describe what is listed (carried by sort, page, bulk and CSV links).
_SORT_FOR_COLUMN = {
    "iccid": "iccid",
    "name": "name",
    "state": "state",
    "group": "group",
    "last_activity": "-last_activity",
}


def parse_columns(data: QueryDict) -> tuple[str, ...]:
    wanted = {part.strip() for value in data.getlist("columns") for part in value.split(",")}
    return tuple(name for name in OPTIONAL_COLUMNS if name in wanted)


@dataclass
class ListState:
    """Everything the list shows for one request."""

    filterset: EndpointFilterSet
    sort: listing.Sort
    per_page: int
    columns: tuple[str, ...]
    query: QueryDict
    notices: list[str] = field(default_factory=list)
    page: listing.Page | None = None
    count: int = 0
    count_more: bool = False

    @property
    def valid(self) -> bool:
        return self.filterset.is_valid()

    def url(self, **changes) -> str:
        """The list URL with ``changes`` applied (a value of None drops the key)."""
        query = self.query.copy()
        for key, value in changes.items():
            if value is None:
                query.pop(key, None)
            else:
                query[key] = value
        encoded = query.urlencode()
        return reverse("inventory:endpoint_list") + (f"?{encoded}" if encoded else "")


def filtered_endpoints(request, groups: list[Group], data: QueryDict) -> EndpointFilterSet:
    """The account's endpoints narrowed by the filters in ``data``."""
    return EndpointFilterSet(
        data,
        Endpoint.objects.filter(account=request.account),
        account_id=request.account.pk,
        groups=groups,
    )


def build_list(request, groups: list[Group]) -> ListState:
    data = request.GET
    state = ListState(
        filterset=filtered_endpoints(request, groups, data),
        sort=listing.parse_sort(data.get("sort")),
        per_page=listing.parse_page_size(data.get("per_page")),
        columns=parse_columns(data),
        query=clean_view_query(data),
    )
    if not state.valid:
        return state
    after = before = None
    try:
        if data.get("before"):
            before = listing.decode_cursor(data["before"], state.sort)
        elif data.get("after"):
            after = listing.decode_cursor(data["after"], state.sort)
    except listing.BadCursor:
        state.notices.append("That page link is no longer valid; showing the first page.")
    endpoints = state.filterset.qs
    state.page = listing.fetch_page(
        endpoints=endpoints,
        sort=state.sort,
        per_page=state.per_page,
        groups=groups,
        after=after,
        before=before,
        segments=listing.Segments(
            account_id=request.account.pk,
            counts_table=StateCount._meta.db_table,
            states=tuple(state.filterset.form.cleaned_data.get("state") or ()),
            group_id=int(group)
            if (group := state.filterset.form.cleaned_data.get("group"))
            else None,
            inactive_before=state.filterset.inactive_before,
        ),
        any_state=state.filterset.qs_any_state,
    )
    if "usage" in state.columns:
        used = month_totals(request.account, [row.pk for row in state.page.rows])
        for row in state.page.rows:
            row.month_usage = used.get(row.pk, 0)
    exact = exact_count(request.account, state.filterset)
    if exact is not None:
        state.count, state.count_more = exact, False
    elif after is None and before is None and not state.page.has_next:
        # The first page holds every match, so its length is the count: a
        # selective search or filter pays no second scan (docs/benchmark.md).
        shown = len(state.page.rows)
        state.count = min(shown, listing.COUNT_LIMIT)
        state.count_more = shown > listing.COUNT_LIMIT
    else:
        state.count, state.count_more = listing.bounded_count(
            endpoints, state.filterset.inactive_before
        )
    return state


def exact_count(account, filterset: EndpointFilterSet) -> int | None:
    """The exact number of matches when the filters are state and group only
    (or none): the counts the database keeps (docs/usage.md), one query
    whatever the account's size. None for any other filter, which keeps the
    bounded count."""
    data = filterset.form.cleaned_data
    if any(data.get(name) for name in FILTER_PARAMS if name not in EXACT_FILTERS):
        return None
    group = data.get("group")
    return counts.matching(
        account=account, states=data.get("state") or (), group_id=int(group) if group else None
    )


def _headers(state: ListState, specs: tuple[ColumnSpec, ...]) -> list[dict]:
    headers = []
    current = state.sort.name
    for column in specs:
        base = _SORT_FOR_COLUMN.get(column.name)
        header = {"name": column.name, "label": column.header, "url": None, "aria_sort": None}
        if base:
            plain = base.lstrip("-")
            active = current.lstrip("-") == plain
            if active:
                header["aria_sort"] = "descending" if current.startswith("-") else "ascending"
                target = plain if current.startswith("-") else f"-{plain}"
            else:
                target = base
            header["url"] = state.url(sort=target, after=None, before=None)
        headers.append(header)
    return headers


@member_required()
def endpoint_list(request):
    groups = account_groups(request.account)
    state = build_list(request, groups)
    rows = state.page.rows if state.page else []
    selectable = request.member.can_operate
    specs = column_specs(selectable, state.columns)
    context = {
        "list": state,
        "filter": state.filterset,
        "rows": EndpointRows(rows, groups=groups, specs=specs).html_rows(),
        "headers": _headers(state, specs),
        "groups": groups,
        "states": State.choices,
        "page_sizes": listing.PAGE_SIZES,
        "optional_columns": OPTIONAL_COLUMNS,
        "selectable": selectable,
        "can_terminate": request.member.can_terminate,
        "filter_query": state.query.urlencode(),
        "first_url": state.url(after=None, before=None),
        "next_url": state.page
        and state.page.next_cursor
        and state.url(after=state.page.next_cursor),
        "prev_url": state.page
        and state.page.prev_cursor
        and state.url(before=state.page.prev_cursor),
        "export_url": reverse("inventory:endpoint_export")
        + (f"?{state.query.urlencode()}" if state.query else ""),
    }
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    template = "inventory/_partials/endpoint_results.html" if partial else None
    response = render(request, template or "inventory/endpoint_list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@member_required()
def endpoint_export(request):
    """All endpoints matching the list's filters, in its order, as streamed CSV."""
    groups = account_groups(request.account)
    filterset = filtered_endpoints(request, groups, request.GET)
    if not filterset.is_valid():
        for errors in filterset.form.errors.values():
            for error in errors:
                messages.error(request, error)
        list_url = reverse("inventory:endpoint_list")
        query = clean_view_query(request.GET).urlencode()
        response = HttpResponse(status=303)
        response["Location"] = list_url + (f"?{query}" if query else "")
        return response
    sort = listing.parse_sort(request.GET.get("sort"))
    lines = csv_export.stream(endpoints=filterset.qs, sort=sort)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = (
        f'attachment; filename="endpoints-{request.account.slug}-{stamp}.csv"'
    )
    return response
