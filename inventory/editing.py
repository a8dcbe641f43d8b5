"""What an edit of one endpoint changes, and the History that says so.

The edit screen changes descriptive fields (name, reference, tags), the IMEI
lock, secondary group memberships and static addresses. All of it is one
transaction: an address refused by ``addressing.reserve_static`` (held by
another endpoint, outside the subnet) rolls back every other field of the same
save, so the operator fixes the form and nothing is half-saved.

One save writes one History row: "edited" with every field, membership and
address it changed, or "static_ip" when static addresses were all it changed
(the action ``addressing`` records for its other callers). Static addresses
are reserved and cleared through ``addressing``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from events import outbox
from events.models import EventType
from inventory import addressing
from inventory.history import Actor, record
from inventory.models import (
    AllocationKind,
    Endpoint,
    Group,
    HistoryAction,
    IPAllocation,
    SecondaryMembership,
    State,
)

# Table names for the SQL below, quoted, from the models (never spelled out).
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)

#: How many of the account's tags the edit screen suggests, read from at most
#: this many of its tagged endpoints (see ``account_tags``).
TAG_SUGGESTIONS = 200
TAG_SAMPLE_ROWS = 10_000


def static_ip_key(group_id: int) -> str:
    """The form field (and error key) of the static address in one group."""
    return f"static_ip_{group_id}"


@dataclass(frozen=True)
class Edit:
    """What the operator asked for. ``static_ips`` maps a group id to an address,
    or to "" for an automatic one; groups left out keep what they have."""

    name: str
    reference: str
    tags: list[str]
    imei_lock_enabled: bool
    imei: str
    secondary_groups: Collection[Group]
    static_ips: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EditResult:
    """``changes`` as recorded in the "edited" History row; ``addresses`` the
    static addresses reserved or cleared, by group name: [old, new]."""

    changes: dict
    addresses: dict[str, list]

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.addresses)


class EditRefused(Exception):
    """The edit was not saved. ``errors`` maps a field (``None`` for the whole
    form) to the messages an operator can act on."""

    def __init__(self, errors: dict[str | None, list[str]]):
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


TERMINATED_MESSAGE = "A terminated endpoint cannot be edited."

_FIELDS = ("name", "reference", "tags", "imei_lock_enabled", "imei")


def _group_names(groups: Collection[Group]) -> list[str]:
    return sorted(group.name for group in groups)


def apply_edit(*, endpoint: Endpoint, edit: Edit, actor: Actor) -> EditResult:
    """Apply ``edit`` to ``endpoint`` in one transaction and say what changed
    (when no field changed, no "edited" History row is written).

    The endpoint row is locked first, so the "before" values in History are the
    ones this save replaced even when someone else saved a moment earlier, and a
    concurrent terminate either happens before (the edit is refused) or waits.
    Raises ``EditRefused`` with per-field messages; nothing is saved then.
    """
    with transaction.atomic():
        current = (
            Endpoint.objects.select_for_update(no_key=True, of=("self",))
            .select_related("primary_group__vslice")
            .get(pk=endpoint.pk, account_id=endpoint.account_id)
        )
        if current.state == State.TERMINATED:
            raise EditRefused({None: [TERMINATED_MESSAGE]})

        changes: dict = {}
        for name in _FIELDS:
            old, new = getattr(current, name), getattr(edit, name)
            if old != new:
                changes[name] = [old, new]
                setattr(current, name, new)
        if changes:
            current.save(update_fields=list(changes))

        errors: dict[str | None, list[str]] = {}
        memberships = _change_secondary_groups(current, edit, changes, errors)
        addresses = _change_static_ips(current, memberships, edit, errors, actor)
        if errors:
            raise EditRefused(errors)
        if changes:
            if addresses:
                changes["ip"] = {**changes.get("ip", {}), **addresses}
            record(endpoint=current, actor=actor, action=HistoryAction.EDITED, changes=changes)
        elif addresses:
            record(
                endpoint=current,
                actor=actor,
                action=HistoryAction.STATIC_IP,
                changes={"ip": addresses},
            )
        if changes or addresses:
            outbox.emit(
                account_id=current.account_id,
                type=EventType.UPDATED,
                endpoint_id=current.pk,
                data={
                    "endpoint": {"id": current.pk, "iccid": current.iccid},
                    "changes": changes or {"ip": addresses},
                    "actor": {"kind": actor.kind, "label": actor.label},
                    "at": timezone.now(),
                },
            )
        return EditResult(changes=changes, addresses=addresses)


def _change_secondary_groups(
    endpoint: Endpoint, edit: Edit, changes: dict, errors: dict
) -> dict[int, Group]:
    """Add and remove secondary memberships; a removed one gives back its
    address. Returns the endpoint's groups after the change, by id."""
    existing = {
        membership.group_id: membership.group
        for membership in SecondaryMembership.objects.filter(endpoint=endpoint).select_related(
            "group__vslice"
        )
    }
    wanted = {group.pk: group for group in edit.secondary_groups}
    for group in wanted.values():
        if group.account_id != endpoint.account_id:
            # The form offers the account's groups only; this guards other callers.
            errors.setdefault("secondary_groups", []).append("Choose groups of this account.")
            return existing
        if group.pk == endpoint.primary_group_id:
            errors.setdefault("secondary_groups", []).append(
                f"{group.name} is already the primary group of this endpoint."
            )
            return existing
    added = [group for pk, group in wanted.items() if pk not in existing]
    removed = [group for pk, group in existing.items() if pk not in wanted]
    if added and endpoint.primary_group_id is None:
        errors.setdefault("secondary_groups", []).append(
            "Assign the endpoint to a primary group before adding secondary groups."
        )
        return existing
    if added:
        SecondaryMembership.objects.bulk_create(
            SecondaryMembership(account_id=endpoint.account_id, endpoint=endpoint, group=group)
            for group in added
        )
    if removed:
        changes.update(_release_addresses(endpoint, removed))
        SecondaryMembership.objects.filter(
            endpoint=endpoint, group_id__in=[group.pk for group in removed]
        ).delete()
    if added or removed:
        changes["secondary_groups"] = [
            _group_names(existing.values()),
            _group_names(wanted.values()),
        ]
    groups = dict(wanted)
    if endpoint.primary_group_id:
        groups[endpoint.primary_group_id] = endpoint.primary_group
    return groups


def _release_addresses(endpoint: Endpoint, groups: list[Group]) -> dict:
    """Give back the addresses (static ones too) the endpoint held in ``groups``;
    returns them as History changes."""
    released = {
        allocation.group.name: [allocation.address, None]
        for allocation in IPAllocation.objects.filter(
            endpoint=endpoint, group__in=groups
        ).select_related("group")
    }
    for group in groups:
        addressing.release(
            endpoints=Endpoint.objects.filter(pk=endpoint.pk),
            group=group,
            kinds=(AllocationKind.AUTO, AllocationKind.STATIC),
        )
    return {"ip": released} if released else {}


def _change_static_ips(
    endpoint: Endpoint,
    groups: dict[int, Group],
    edit: Edit,
    errors: dict,
    actor: Actor,
) -> dict[str, list]:
    """Reserve, move or clear static addresses in the endpoint's groups. Each
    reservation runs in its own savepoint so that every refused address gets
    its message, not only the first. Returns what changed, by group name."""
    changed: dict[str, list] = {}
    current = {
        allocation.group_id: allocation
        for allocation in IPAllocation.objects.filter(endpoint=endpoint, group_id__in=list(groups))
    }
    for group_id, address in edit.static_ips.items():
        group = groups.get(group_id)
        if group is None:
            continue  # not (or no longer) a membership: nothing to address
        allocation = current.get(group_id)
        static = (
            allocation.address if allocation and allocation.kind == AllocationKind.STATIC else ""
        )
        if address == static:
            continue
        if address:
            try:
                with transaction.atomic():
                    addressing.reserve_static(
                        endpoint=endpoint, group=group, address=address, actor=actor, history=False
                    )
            except ValidationError as exc:
                errors.setdefault(static_ip_key(group_id), []).extend(exc.messages)
                continue
        else:
            addressing.clear_static(endpoint=endpoint, group=group, actor=actor, history=False)
        changed[group.name] = [static or None, address or None]
    return changed


def account_tags(
    *, account_id: int, limit: int = TAG_SUGGESTIONS, sample: int = TAG_SAMPLE_ROWS
) -> list[str]:
    """Tags already used in the account, to suggest while typing (one query).

    A DISTINCT over every endpoint's tags scans the whole account: 1.3-2 s at
    600,000 endpoints, on every load of the edit page. Reading the tags of at
    most ``sample`` tagged endpoints bounds that at tens of milliseconds; a tag
    only a few endpoints of a very large account carry may then go unsuggested,
    and typing it still works.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tag FROM ("
            f"  SELECT tags FROM {_ENDPOINTS}"
            "  WHERE account_id = %(account)s AND tags <> '{}' LIMIT %(sample)s"
            ") AS e, unnest(e.tags) AS tag ORDER BY tag LIMIT %(limit)s",
            {"account": account_id, "sample": sample, "limit": limit},
        )
        return [row[0] for row in cursor.fetchall()]
