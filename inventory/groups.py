"""What an account admin may do to the account's endpoint groups (docs/usage.md
"Groups"): create, change, delete an empty one. VSlices and their subnets stay
with provider staff; a group may only use a VSlice of its own account.

Changes apply at once: the packet core reads a group's APN and VSlice on each
session start, and the allowance in each network batch. Each change is one
History row per endpoint whose primary group it is (one INSERT … SELECT), so an
endpoint's History tells when its network configuration changed.

The portal's form and the API both call these functions; they raise
``GroupRefused`` with a message for the person (the form shows it, the API
answers 409 or 422 with it).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields

from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

import audit
from audit.events import actor_of
from audit.models import AuditAction
from inventory import history
from inventory.history import Actor
from inventory.models import (
    Endpoint,
    Group,
    HistoryAction,
    IPAllocation,
    OperatorPolicy,
    SecondaryMembership,
    VSlice,
)
from inventory.operators import is_country
from portal.models import Account

_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_HISTORY = _quote(history.History._meta.db_table)

MAX_APN = 100
MAX_NAME = 100
#: Most countries, and most PLMNs, one operator policy lists.
MAX_POLICY_ENTRIES = 300


class GroupRefused(Exception):
    """The change breaks a rule; ``str()`` says which, for the person."""

    def __init__(self, message: str, *, field: str = "", conflict: bool = False):
        super().__init__(message)
        self.field = field
        self.conflict = conflict


@dataclass(frozen=True)
class GroupSettings:
    """Everything an account admin sets on a group."""

    name: str
    vslice: VSlice
    apn: str
    data_allowance_mb: int | None = None
    warning_percent: int = 80
    suspend_at_limit: bool = False
    #: Operator policy (docs/connectivity.md): "any", "allow" or "block" the
    #: listed countries (ISO 3166 alpha-2) and PLMNs (MCC+MNC).
    operator_policy: str = OperatorPolicy.ANY.value
    policy_countries: tuple[str, ...] = ()
    policy_plmns: tuple[str, ...] = ()


def policy_countries(values) -> tuple[str, ...]:
    """Country codes from a list or a comma/space separated text: upper case,
    sorted, without repeats; an unknown code is refused by name."""
    codes = _entries(values)
    unknown = [code for code in codes if not is_country(code)]
    if unknown:
        raise GroupRefused(
            f"Not an ISO 3166 country code: {', '.join(unknown[:5])} (use two letters, e.g. DE).",
            field="policy_countries",
        )
    return tuple(sorted({code.upper() for code in codes}))


def policy_plmns(values) -> tuple[str, ...]:
    """PLMNs (MCC+MNC, 5 or 6 digits) from a list or a separated text."""
    plmns = _entries(values)
    bad = [p for p in plmns if not (len(p) in (5, 6) and p.isascii() and p.isdigit())]
    if bad:
        raise GroupRefused(
            f"Not a PLMN (MCC+MNC, 5 or 6 digits): {', '.join(bad[:5])}.", field="policy_plmns"
        )
    return tuple(sorted(set(plmns)))


def _entries(values) -> list[str]:
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    entries = [str(value).strip() for value in values or () if str(value).strip()]
    if len(entries) > MAX_POLICY_ENTRIES:
        raise GroupRefused(f"At most {MAX_POLICY_ENTRIES} entries.", field="operator_policy")
    return entries


def _check(account: Account, settings: GroupSettings) -> None:
    if settings.vslice.account_id != account.pk:
        raise GroupRefused("That VSlice is not one of this account's.", field="vslice")
    if not settings.name.strip() or len(settings.name) > MAX_NAME:
        raise GroupRefused(f"A name of 1 to {MAX_NAME} characters.", field="name")
    if not settings.apn.strip() or len(settings.apn) > MAX_APN:
        raise GroupRefused(f"An APN of 1 to {MAX_APN} characters.", field="apn")
    if settings.data_allowance_mb is not None and not 1 <= settings.data_allowance_mb <= 2**31 - 1:
        raise GroupRefused(
            "The allowance is a whole number of MB, at least 1.", field="data_allowance_mb"
        )
    if not 1 <= settings.warning_percent <= 100:
        raise GroupRefused("The warning is a percentage from 1 to 100.", field="warning_percent")
    if settings.operator_policy not in OperatorPolicy.values:
        raise GroupRefused(
            f"The operator policy is one of {', '.join(OperatorPolicy.values)}.",
            field="operator_policy",
        )
    listed = settings.policy_countries or settings.policy_plmns
    if settings.operator_policy != OperatorPolicy.ANY and not listed:
        raise GroupRefused(
            "List at least one country or network for the policy, or choose any network.",
            field="operator_policy",
        )
    if settings.operator_policy == OperatorPolicy.ANY and listed:
        raise GroupRefused(
            "Choose whether the listed countries and networks are allowed or blocked.",
            field="operator_policy",
        )


def _taken(account: Account, name: str, exclude: int | None = None) -> bool:
    others = Group.objects.filter(account=account, name=name)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    return others.exists()


def _audit(action: AuditAction, group: Group, actor: Actor, ip: str | None, details: dict):
    """The audit row of a group change, in the change's transaction."""
    audit.record(
        action=action,
        account=group.account,
        actor=actor_of(actor),
        target=group.name,
        details={"group": group.pk, **details},
        ip=ip,
    )


def _described(group: Group) -> dict:
    return {
        "vslice": group.vslice.name,
        "apn": group.apn,
        "data_allowance_mb": group.data_allowance_mb,
        "warning_percent": group.warning_percent,
        "suspend_at_limit": group.suspend_at_limit,
    }


def create_group(
    *, account: Account, settings: GroupSettings, actor: Actor, ip: str | None = None
) -> Group:
    """A new group of ``account``; ``actor`` and ``ip`` are for its audit row."""
    _check(account, settings)
    if _taken(account, settings.name):
        raise GroupRefused(
            "The account already has a group of that name.", field="name", conflict=True
        )
    try:
        with transaction.atomic():
            group = Group.objects.create(account=account, **_values(settings))
            _audit(AuditAction.GROUP_CREATED, group, actor, ip, _described(group))
            return group
    except IntegrityError as exc:  # the same name created meanwhile
        raise GroupRefused(
            "The account already has a group of that name.", field="name", conflict=True
        ) from exc


def _values(settings: GroupSettings) -> dict:
    """The model's values (the policy lists as lists, as ArrayFields load)."""
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    values["policy_countries"] = list(settings.policy_countries)
    values["policy_plmns"] = list(settings.policy_plmns)
    return values


def update_group(
    *, group: Group, settings: GroupSettings, actor: Actor, ip: str | None = None
) -> dict:
    """Apply ``settings`` to ``group``; returns the changes as {field: [old, new]}
    (empty when nothing changed) and records them on the group's endpoints."""
    account = group.account
    _check(account, settings)
    with transaction.atomic():
        group = Group.objects.select_for_update().select_related("vslice").get(pk=group.pk)
        if settings.name != group.name and _taken(account, settings.name, exclude=group.pk):
            raise GroupRefused(
                "The account already has a group of that name.", field="name", conflict=True
            )
        changes = {}
        for name, value in _values(settings).items():
            old = getattr(group, name)
            if old != value:
                if name == "vslice":
                    changes[name] = [old.name, value.name]
                else:
                    changes[name] = [old, value]
        if not changes:
            return {}
        if "vslice" in changes and IPAllocation.objects.filter(group=group).exists():
            raise GroupRefused(
                "The group's endpoints hold addresses in its VSlice; a group moves to another"
                " VSlice only while it holds none (terminate or move its endpoints first).",
                field="vslice",
                conflict=True,
            )
        for name, value in _values(settings).items():
            setattr(group, name, value)
        try:
            group.save()
        except IntegrityError as exc:
            raise GroupRefused(
                "The account already has a group of that name.", field="name", conflict=True
            ) from exc
        _record(group, changes, actor)
        _audit(AuditAction.GROUP_CHANGED, group, actor, ip, {"changes": changes})
    return changes


def _record(group: Group, changes: dict, actor: Actor) -> None:
    """One History row per endpoint whose primary group this is, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_HISTORY} ({history.COLUMN_LIST})
            SELECT e.account_id, e.id, now(), %(kind)s, %(user)s, %(label)s, %(action)s,
                   '', '', %(changes)s::jsonb, '', %(batch)s
              FROM {_ENDPOINTS} e
             WHERE e.account_id = %(account)s AND e.primary_group_id = %(group)s
            """,
            {
                "kind": actor.kind,
                "user": actor.user_id,
                "label": actor.label,
                "action": HistoryAction.GROUP_CHANGED.value,
                "changes": _json({"group": group.name, **changes}),
                "batch": uuid.uuid4(),
                "account": group.account_id,
                "group": group.pk,
            },
        )


def _json(value: dict) -> str:
    return json.dumps(value)


def delete_group(*, group: Group, actor: Actor, ip: str | None = None) -> None:
    """Delete ``group`` if no endpoint uses it (as primary or secondary group)."""
    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        in_use = (
            Endpoint.objects.filter(account=group.account_id, primary_group=group).exists()
            or SecondaryMembership.objects.filter(group=group).exists()
            or IPAllocation.objects.filter(group=group).exists()
        )
        if in_use:
            raise GroupRefused(
                "Only an empty group can be deleted: move or terminate its endpoints first"
                " (terminated endpoints keep their group until they are purged).",
                conflict=True,
            )
        try:
            with transaction.atomic():
                _audit(AuditAction.GROUP_DELETED, group, actor, ip, {})
                group.delete()
        except ProtectedError as exc:  # a job of the past names it
            raise GroupRefused(
                "A job of this account names this group; it is kept with the job's record.",
                conflict=True,
            ) from exc
