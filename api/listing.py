"""The endpoint list of the API: the portal's filters, search, sorts and keyset
pages, through the very same code (``inventory.filters``, ``inventory.search``,
``inventory.pagination``), so the API and the portal list the same endpoints in
the same order for the same filters.

The API names groups by name; the portal's filter takes the group's id, so the
name is translated here against the account's groups (already loaded), and an
unknown name gets the portal's own message.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import QueryDict

from api.problems import ProblemError
from inventory import pagination
from inventory.filters import EndpointFilterSet
from inventory.models import Endpoint, Group
from portal.models import Account
from usage.models import StateCount

_UNKNOWN_GROUP = "-"


def _group_id(groups: Sequence[Group], name: str | None) -> str:
    if not name:
        return ""
    for group in groups:
        if group.name == name:
            return str(group.pk)
    return _UNKNOWN_GROUP


def filter_data(
    *, groups: Sequence[Group], state=(), group=None, tag=None, kv=None, q=None
) -> QueryDict:
    data = QueryDict(mutable=True)
    data.setlist("state", list(state or ()))
    for key, value in (
        ("group", _group_id(groups, group)),
        ("tag", tag or ""),
        ("kv", kv or ""),
        ("q", q or ""),
    ):
        if value:
            data[key] = value
    return data


def filtered(
    *, account: Account, groups: Sequence[Group], data: QueryDict, location: str = "query"
):
    """The account's endpoints matching ``data``, or a 422 naming each bad field."""
    return filter_set(account=account, groups=groups, data=data, location=location).qs


def filter_set(
    *, account: Account, groups: Sequence[Group], data: QueryDict, location: str = "query"
) -> EndpointFilterSet:
    """The filter set of ``data`` over the account's endpoints, validated (a 422
    naming each bad field otherwise): its ``qs``, and ``qs_any_state`` for
    the pages read one state at a time."""
    filterset = EndpointFilterSet(
        data,
        Endpoint.objects.filter(account=account),
        account_id=account.pk,
        groups=list(groups),
    )
    if not filterset.is_valid():
        errors = [
            {"field": f"{location}.{field}", "message": str(message)}
            for field, messages in filterset.form.errors.items()
            for message in messages
        ]
        raise ProblemError(
            422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )
    return filterset


def page(
    *,
    endpoints,
    groups: Sequence[Group],
    sort_name: str,
    limit: int,
    cursor: str | None,
    columns: Sequence[str],
    segments: pagination.Segments | None = None,
    any_state=None,
) -> pagination.Page:
    sort = pagination.parse_sort(sort_name)
    after = None
    if cursor:
        try:
            after = pagination.decode_cursor(cursor, sort)
        except pagination.BadCursor as exc:
            raise ProblemError(
                422,
                "query.cursor: not a cursor of this list and sort; start again without it.",
                errors=[{"field": "query.cursor", "message": "Not a cursor of this list."}],
            ) from exc
    return pagination.fetch_page(
        endpoints=endpoints,
        sort=sort,
        per_page=limit,
        groups=groups,
        after=after,
        columns=columns,
        segments=segments,
        any_state=any_state,
        keys_first=True,
    )


def segments(*, account: Account, data: QueryDict) -> pagination.Segments:
    """The state and group filters of ``data`` (already validated by
    ``filtered``), for the kept counts to rule out empty ranges."""
    group = data.get("group")
    return pagination.Segments(
        account_id=account.pk,
        counts_table=StateCount._meta.db_table,
        states=tuple(data.getlist("state")),
        group_id=int(group) if group else None,
    )
