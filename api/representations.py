"""Models as the API shows them: the endpoint of docs/api.md, a job, a group.

Endpoints are shown a page at a time, so their IMSIs, secondary groups,
addresses and key values are read for the whole page at once: four queries
whatever its size.
Group names come from the account's groups, which every caller has loaded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from inventory.models import IMSI, Endpoint, Group, IPAllocation, KeyValue, SecondaryMembership
from jobs.models import Action, Job

#: The endpoint columns the API shows (the list reads only these).
ENDPOINT_COLUMNS = (
    "id",
    "iccid",
    "name",
    "reference",
    "tags",
    "state",
    "primary_group_id",
    "imei_lock_enabled",
    "imei",
    "last_activity",
    "state_changed_at",
    "created_at",
)


def endpoints_out(rows: Sequence[Endpoint], groups: Sequence[Group]) -> list[dict]:
    """``rows`` (of one account) in the API's shape."""
    if not rows:
        return []
    names = {group.pk: group.name for group in groups}
    ids = [row.pk for row in rows]
    imsis: dict[int, list[str]] = defaultdict(list)
    for endpoint_id, imsi in (
        IMSI.objects.filter(endpoint_id__in=ids).order_by("imsi").values_list("endpoint_id", "imsi")
    ):
        imsis[endpoint_id].append(imsi)
    secondary: dict[int, list[str]] = defaultdict(list)
    for endpoint_id, group_id in SecondaryMembership.objects.filter(
        endpoint_id__in=ids
    ).values_list("endpoint_id", "group_id"):
        secondary[endpoint_id].append(names[group_id])
    addresses: dict[int, list[dict]] = defaultdict(list)
    for endpoint_id, group_id, address, kind in (
        IPAllocation.objects.filter(endpoint_id__in=ids)
        .order_by("group_id")
        .values_list("endpoint_id", "group_id", "address", "kind")
    ):
        addresses[endpoint_id].append({"group": names[group_id], "address": address, "kind": kind})
    key_values: dict[int, dict[str, str]] = defaultdict(dict)
    for endpoint_id, key, value in (
        KeyValue.objects.filter(endpoint_id__in=ids)
        .order_by("endpoint_id", "key")
        .values_list("endpoint_id", "key", "value")
    ):
        key_values[endpoint_id][key] = value
    return [
        {
            "iccid": row.iccid,
            "imsis": imsis[row.pk],
            "name": row.name,
            "reference": row.reference,
            "tags": row.tags,
            "state": row.state,
            "primary_group": names.get(row.primary_group_id),
            "secondary_groups": sorted(secondary[row.pk]),
            "imei_lock": {"enabled": row.imei_lock_enabled, "imei": row.imei},
            "ip_addresses": sorted(addresses[row.pk], key=lambda a: a["group"]),
            "key_values": key_values[row.pk],
            "last_activity": row.last_activity,
            "state_changed_at": row.state_changed_at,
            "created_at": row.created_at,
        }
        for row in rows
    ]


def _summary(job: Job) -> str:
    if not job.finished:
        return ""
    if job.action == Action.IMPORT:
        return f"{job.changed:,} imported"
    return job.result().summary()


def job_out(job: Job) -> dict:
    return {
        "id": job.pk,
        "action": job.action,
        "state": job.state,
        "created_by": job.created_by_label,
        "group": job.group.name if job.group_id else None,
        "reason": job.reason,
        "total": job.total,
        "done": job.done,
        "changed": job.changed,
        "skipped": dict(job.skipped_ordered()),
        "summary": _summary(job),
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def group_out(group: Group) -> dict:
    return {
        "name": group.name,
        "vslice": group.vslice.name,
        "subnet": str(group.vslice.subnet),
        "apn": group.apn,
        "data_allowance_mb": group.data_allowance_mb,
        "warning_percent": group.warning_percent,
        "suspend_at_limit": group.suspend_at_limit,
        "operator_policy": group.operator_policy,
        "policy_countries": list(group.policy_countries),
        "policy_plmns": list(group.policy_plmns),
        "created_at": group.created_at,
    }
