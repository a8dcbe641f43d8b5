"""The endpoint detail: Overview, IP Addresses, Key Values and History, each
tab its own URL.

Every tab loads the endpoint from the current account only (another account's
ICCID is a 404) and runs a fixed number of queries whatever the number of
IMSIs, group memberships, addresses or history rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import redirect, render

from inventory import key_values as kv_rules
from inventory.endpoint_page import base_context
from inventory.history import Actor
from inventory.identifiers import MAX_KEY_VALUES
from inventory.key_values import key_values_of
from inventory.lifecycle import REINSTATE_WINDOW
from inventory.models import IMSI, AllocationKind, Endpoint, Group, History, IPAllocation, State
from inventory.selectors import (
    allocations_by_group,
    endpoint_for,
    endpoint_with_groups,
    member_groups,
)
from network.connectivity import connectivity_of
from portal.models import ActorKind
from portal.tenancy import member_required

HISTORY_PAGE_SIZE = 25
#: Empty rows the Key Values form offers for new pairs.
BLANK_ROWS = 3
_READ_ONLY = "Your role in this account is read-only."

#: How History.changes keys read on the History tab.
FIELD_LABELS = {
    "name": "Name",
    "reference": "Reference",
    "tags": "Tags",
    "imei_lock_enabled": "IMEI lock",
    "imei": "IMEI",
    "secondary_groups": "Secondary groups",
    "primary_group": "Primary group",
    "group": "Group",
    "state": "State",
    "last_activity": "Last activity",
    "address": "Address",
    "ip": "IP address",
    "apn": "APN",
    "event": "Network event id",
    "plmn": "Network (PLMN)",
    "rat": "Radio",
}


@member_required()
def overview(request, iccid: str):
    endpoint = endpoint_with_groups(
        request.account, iccid, Prefetch("imsis", queryset=IMSI.objects.order_by("imsi"))
    )
    context = base_context(request, endpoint, "overview")
    context["connectivity"] = connectivity_of(endpoint)
    if endpoint.terminated_at:
        context["deletion_date"] = endpoint.terminated_at + REINSTATE_WINDOW
    return render(request, "inventory/endpoint_overview.html", context)


@dataclass(frozen=True)
class AddressRow:
    group: Group
    primary: bool
    allocation: IPAllocation | None

    @property
    def static(self) -> bool:
        return bool(self.allocation) and self.allocation.kind == AllocationKind.STATIC


def address_rows(endpoint: Endpoint) -> list[AddressRow]:
    """One row per group membership (primary first), with its address if any."""
    allocations = allocations_by_group(endpoint)
    return [
        AddressRow(group, group.pk == endpoint.primary_group_id, allocations.get(group.pk))
        for group in member_groups(endpoint)
    ]


@member_required()
def ip_addresses(request, iccid: str):
    endpoint = endpoint_with_groups(request.account, iccid)
    context = base_context(request, endpoint, "ips")
    context["rows"] = address_rows(endpoint)
    return render(request, "inventory/endpoint_ips.html", context)


@member_required()
def key_values(request, iccid: str):
    """The Key Values tab: everyone reads them; operators and admins also get
    the form, which saves the whole set (``key_values.change_key_values``)."""
    endpoint = endpoint_with_groups(request.account, iccid)
    context = base_context(request, endpoint, "key_values")
    pairs = list(key_values_of(endpoint).items())
    editable = context["actions"].edit
    if request.method == "POST":
        if not request.member.can_operate:
            raise PermissionDenied(_READ_ONLY)
        if endpoint.state == State.TERMINATED:
            context.update(pairs=pairs, refused=[kv_rules.TERMINATED_MESSAGE])
            return render(request, "inventory/endpoint_key_values.html", context, status=409)
        keys, values = request.POST.getlist("key"), request.POST.getlist("value")
        posted = list(zip(keys, values, strict=False))
        wanted: dict[str, str] = {}
        duplicates = []
        for key, value in posted:
            if not key.strip() and not value:
                continue  # an empty row
            if key.strip() in wanted:
                duplicates.append(f"The key {key.strip()[:64]} is given twice.")
            wanted[key.strip()] = value
        try:
            if duplicates:
                raise kv_rules.KeyValuesRefused(duplicates)
            changes = kv_rules.change_key_values(
                endpoint=endpoint, actor=Actor.for_user(request.user), pairs=wanted, replace=True
            )
        except kv_rules.KeyValuesRefused as refused:
            context.update(
                pairs=[(k, v) for k, v in posted if k.strip() or v],
                refused=refused.messages,
                editable=True,
                blank_rows=range(BLANK_ROWS),
            )
            return render(request, "inventory/endpoint_key_values.html", context, status=200)
        if changes:
            messages.success(request, f"Key values of {endpoint.iccid} saved.")
        else:
            messages.info(request, "Nothing changed.")
        return redirect("inventory:endpoint_key_values", iccid=endpoint.iccid)
    context.update(
        pairs=pairs,
        editable=editable,
        blank_rows=range(BLANK_ROWS),
        max_pairs=MAX_KEY_VALUES,
    )
    return render(request, "inventory/endpoint_key_values.html", context)


@dataclass(frozen=True)
class ChangeLine:
    label: str
    old: str
    new: str
    single: bool  # a value without a before/after pair


def _readable(value) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, list | tuple):
        return ", ".join(_readable(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_readable(item)}" for key, item in value.items())
    if isinstance(value, str) and value in State.values:
        return State(value).label
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return value
    return str(value)


def change_lines(changes: dict) -> list[ChangeLine]:
    """History.changes as label/old/new lines: ``{"name": [old, new]}`` reads
    "Name: old → new"; any other value is shown as it is."""
    lines = []
    for key, value in (changes or {}).items():
        if key == "key_values" and isinstance(value, dict):
            # {"key_values": {"fleet": [old, new]}}: one line per key.
            lines.extend(_line(f"Key value {name}", pair) for name, pair in value.items())
            continue
        label = FIELD_LABELS.get(key) or key[:1].upper() + key[1:].replace("_", " ")
        if isinstance(value, dict) and all(_is_pair(item) for item in value.values()):
            # Per-group values, e.g. {"ip": {"fleet-eu": ["10.0.0.5", None]}}.
            for part, pair in value.items():
                lines.append(_line(f"{label} in {part}", pair))
        else:
            lines.append(_line(label, value))
    return lines


def _is_pair(value) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2


def _line(label: str, value) -> ChangeLine:
    if _is_pair(value):
        return ChangeLine(label, _readable(value[0]), _readable(value[1]), False)
    return ChangeLine(label, "", _readable(value), True)


@member_required()
def history(request, iccid: str):
    endpoint = endpoint_for(
        request.account, iccid, queryset=Endpoint.objects.select_related("primary_group")
    )
    rows = History.objects.filter(endpoint=endpoint, account=endpoint.account_id).order_by(
        "-at", "-id"
    )
    page = Paginator(rows, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    entries = list(page.object_list)
    for entry in entries:
        entry.change_lines = change_lines(entry.changes)
        entry.who = entry.actor_label or entry.get_actor_kind_display()
        entry.what = entry.get_action_display()
        entry.by_person = entry.actor_kind in (ActorKind.USER, ActorKind.SUPPORT)
    context = base_context(request, endpoint, "history")
    context.update(page=page, entries=entries)
    return render(request, "inventory/endpoint_history.html", context)
