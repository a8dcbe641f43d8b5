"""Inventory → Groups: each group of the account with its VSlice, subnet, APN,
endpoints by state and the addresses used of its subnet.

Three queries whatever the number of groups or endpoints: the groups (with
their VSlices), the account's kept state counts (``usage.counts``: a few rows,
not a count of its endpoints) and the kept address blocks summed per VSlice.
Every count links to the endpoint list filtered the same way.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.db.models import Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from inventory.forms.groups import GroupForm
from inventory.groups import GroupRefused, create_group, delete_group, update_group
from inventory.history import Actor
from inventory.identifiers import usable_hosts
from inventory.models import AddressBlock, Group, State
from portal.client_ip import client_ip
from portal.models import Role
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
        {
            "entries": entries,
            "states": State.choices,
            "can_manage": request.member.has_role(Role.ADMIN),
        },
    )


def _group_of(request, pk: int) -> Group:
    """The current account's group ``pk``, or 404."""
    return get_object_or_404(
        Group.objects.filter(account=request.account).select_related("vslice"), pk=pk
    )


def _refused(form: GroupForm, refusal: GroupRefused) -> None:
    form.add_error(refusal.field or None, str(refusal))


@member_required(Role.ADMIN)
def group_create(request):
    form = GroupForm(request.POST or None, account=request.account)
    if request.method == "POST" and form.is_valid():
        try:
            group = create_group(
                account=request.account,
                settings=form.settings(),
                actor=Actor.for_user(request.user),
                ip=client_ip(request),
            )
        except GroupRefused as refusal:
            _refused(form, refusal)
        else:
            messages.success(request, f"Group {group.name} created.")
            return redirect("inventory:group_list")
    return render(request, "inventory/group_form.html", {"form": form, "group": None})


@member_required(Role.ADMIN)
def group_edit(request, pk: int):
    group = _group_of(request, pk)
    form = GroupForm(request.POST or None, account=request.account, group=group)
    if request.method == "POST" and form.is_valid():
        try:
            changes = update_group(
                group=group,
                settings=form.settings(),
                actor=Actor.for_user(request.user),
                ip=client_ip(request),
            )
        except GroupRefused as refusal:
            _refused(form, refusal)
        else:
            if changes:
                messages.success(request, f"Group {form.settings().name} changed.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("inventory:group_list")
    return render(request, "inventory/group_form.html", {"form": form, "group": group})


@member_required(Role.ADMIN)
def group_delete(request, pk: int):
    group = _group_of(request, pk)
    if request.method == "POST":
        try:
            with transaction.atomic():
                delete_group(group=group, actor=Actor.for_user(request.user), ip=client_ip(request))
        except GroupRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"Group {group.name} deleted.")
        return redirect("inventory:group_list")
    return render(request, "inventory/group_delete.html", {"group": group})
