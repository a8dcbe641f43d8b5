"""Account-scoped reads shared by several screens and the API.

Every function here takes the account first and starts its query from it, so
another account's object is simply not found: a 404 in the views, never a 403.
Each loads what its callers show in a constant number of queries.
"""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from inventory.models import Endpoint, Group, IPAllocation, NetworkEvent, SecondaryMembership
from portal import raw_rows
from portal.models import Account
from portal.time_cursor import older_than

# Read by nearly every inventory page and API request, so written out
# (portal.raw_rows): the queryset's building and compiling cost more CPU than
# its few rows.
_GROUPS_SQL = f"""
SELECT {raw_rows.columns(Group, "g")}
  FROM {Group._meta.db_table} g
 WHERE g.account_id = %s
 ORDER BY g.name
"""


def account_groups(account: Account) -> list[Group]:
    """The account's groups by name: the list's filter, the bulk assign choice.
    From the database the ORM would read groups from (a replica for the
    routes that read there)."""
    using = router.db_for_read(Group)
    with connections[using].cursor() as cursor:
        cursor.execute(_GROUPS_SQL, [account.pk])
        rows = cursor.fetchall()
    return [raw_rows.instance(Group, row, using=using) for row in rows]


def endpoint_for(account: Account, iccid: str, *, queryset=None) -> Endpoint:
    """The endpoint with this ICCID in ``account``, or 404."""
    base = queryset if queryset is not None else Endpoint.objects.all()
    return get_object_or_404(base.filter(account=account), iccid=iccid)


def secondary_memberships() -> Prefetch:
    return Prefetch(
        "secondarymembership_set",
        queryset=SecondaryMembership.objects.select_related("group__vslice").order_by(
            "group__name", "group_id"
        ),
        to_attr="secondaries",
    )


def endpoint_with_groups(account: Account, iccid: str, *prefetch) -> Endpoint:
    """``endpoint_for`` with the primary group's VSlice and the secondary
    memberships loaded (plus any further ``prefetch``): what the tabs and the
    edit page show of its groups, in a constant number of queries."""
    return endpoint_for(
        account,
        iccid,
        queryset=Endpoint.objects.select_related("primary_group__vslice").prefetch_related(
            secondary_memberships(), *prefetch
        ),
    )


def member_groups(endpoint: Endpoint) -> list[Group]:
    """The endpoint's groups, primary first (expects ``endpoint_with_groups``)."""
    primary = [endpoint.primary_group] if endpoint.primary_group else []
    return primary + [membership.group for membership in endpoint.secondaries]


def allocations_by_group(endpoint: Endpoint) -> dict[int, IPAllocation]:
    """The endpoint's addresses by group id, in one query."""
    return {
        allocation.group_id: allocation
        for allocation in IPAllocation.objects.filter(
            endpoint=endpoint, account=endpoint.account_id
        )
    }


def filtered_events(*, account, filters: dict) -> QuerySet[NetworkEvent]:
    """The account's events matching ``filters`` (cleaned form data), newest first."""
    events = NetworkEvent.objects.filter(account=account)
    if filters.get("type"):
        events = events.filter(type=filters["type"])
    if filters.get("status"):
        events = events.filter(status=filters["status"])
    if filters.get("start"):
        events = events.filter(at__gte=filters["start"])
    if filters.get("end"):
        events = events.filter(at__lte=filters["end"])
    if filters.get("endpoint"):
        # The account filter above keeps another account's ICCID from matching.
        events = events.filter(endpoint__iccid=filters["endpoint"])
    if filters.get("cursor"):
        events = events.filter(older_than(filters["cursor"], field="at"))
    return events.order_by("-at", "-pk")
