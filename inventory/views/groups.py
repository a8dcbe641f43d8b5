"""Inventory → Groups: each group of the account with its VSlice, subnet, APN,
endpoints by state and the addresses used of its subnet.

Three queries whatever the number of groups: the groups (with their VSlices),
one GROUP BY over (primary group, state) read from the index
``endpoint_group_state``, and one GROUP BY over the allocations per VSlice.
Every count links to the endpoint list filtered the same way.
"""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlencode

from django.db.models import Count
from django.shortcuts import render
from django.urls import reverse

from inventory.identifiers import usable_hosts
from inventory.models import Endpoint, Group, IPAllocation, State
from portal.tenancy import member_required


@member_required()
def group_list(request):
    groups = list(
        Group.objects.filter(account=request.account).select_related("vslice").order_by("name")
    )
    group_ids = [g.pk for g in groups]
    by_group: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Endpoint.objects.filter(primary_group_id__in=group_ids)
        .values_list("primary_group_id", "state")
        .annotate(n=Count("*"))
        .order_by()
    )
    for group_id, state, n in rows:
        by_group[group_id][state] = n
    used = dict(
        IPAllocation.objects.filter(vslice_id__in={g.vslice_id for g in groups})
        .values_list("vslice_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    list_url = reverse("inventory:endpoint_list")
    entries = []
    for group in groups:
        counts = by_group.get(group.pk, {})
        capacity = usable_hosts(group.vslice.subnet)
        in_use = used.get(group.vslice_id, 0)
        entries.append(
            {
                "group": group,
                "total": sum(counts.values()),
                "total_url": f"{list_url}?{urlencode({'group': group.pk})}",
                "states": [
                    {
                        "value": value,
                        "label": label,
                        "count": counts.get(value, 0),
                        "url": f"{list_url}?{urlencode({'group': group.pk, 'state': value})}",
                    }
                    for value, label in State.choices
                ],
                "used": in_use,
                "capacity": capacity,
                "percent": round(100 * in_use / capacity, 1) if capacity else 0,
            }
        )
    return render(
        request,
        "inventory/group_list.html",
        {"entries": entries, "states": State.choices},
    )
