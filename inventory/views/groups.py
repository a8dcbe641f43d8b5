"""Inventory → Groups: each group of the account with its VSlice, subnet, APN,
endpoints by state and the addresses used of its subnet.

Three queries whatever the number of groups or endpoints: the groups (with
their VSlices), the account's kept state counts (``usage.counts``: a few rows,
not a count of its endpoints) and the kept address blocks summed per VSlice.
Every count links to the endpoint list filtered the same way.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import Sum
from django.shortcuts import render
from django.urls import reverse

from inventory.identifiers import usable_hosts
from inventory.models import AddressBlock, Group, State
from portal.tenancy import member_required
from usage import counts


@member_required()
def group_list(request):
    groups = list(
        Group.objects.filter(account=request.account).select_related("vslice").order_by("name")
    )
    by_group = counts.by_group(counts.account_counts(request.account))
    used = dict(
        AddressBlock.objects.filter(vslice_id__in={g.vslice_id for g in groups})
        .values_list("vslice_id")
        .annotate(n=Sum("used"))
        .order_by()
    )
    list_url = reverse("inventory:endpoint_list")
    entries = []
    for group in groups:
        in_states = by_group.get(group.pk, {})
        capacity = usable_hosts(group.vslice.subnet)
        in_use = used.get(group.vslice_id, 0)
        entries.append(
            {
                "group": group,
                "total": sum(in_states.values()),
                "total_url": f"{list_url}?{urlencode({'group': group.pk})}",
                "states": [
                    {
                        "value": value,
                        "label": label,
                        "count": in_states.get(value, 0),
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
