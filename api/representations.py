"""Models as the API shows them: the endpoint of docs/api.md, a job, a group.

Endpoints are shown a page at a time, so their IMSIs, secondary groups,
addresses and key values are read for the whole page at once: one query
whatever its size (``api.page_relations``).
Group names come from the account's groups, which every caller has loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.page_relations import relations_of
from inventory.models import Endpoint, Group
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
)
# state_changed_at and created_at come with the relations (api.page_relations).


def endpoints_out(rows: Sequence[Endpoint], groups: Sequence[Group]) -> list[dict]:
    """``rows`` (of one account) in the API's shape."""
    if not rows:
        return []
    names = {group.pk: group.name for group in groups}
    relations = relations_of([row.pk for row in rows])
    out = []
    for row in rows:
        related = relations.get(row.pk)
        if related is None:
            continue  # deleted since the page was read
        out.append(
            {
                "iccid": row.iccid,
                "imsis": related.imsis,
                "name": row.name,
                "reference": row.reference,
                "tags": row.tags,
                "state": row.state,
                "primary_group": names.get(row.primary_group_id),
                "secondary_groups": _sorted([names[g] for g in related.secondary_group_ids]),
                "imei_lock": {"enabled": row.imei_lock_enabled, "imei": row.imei},
                "ip_addresses": _sorted(
                    [
                        {"group": names[group_id], "address": address, "kind": kind}
                        for group_id, address, kind in related.addresses
                    ],
                    key=_by_group,
                ),
                "key_values": dict(related.key_values),
                "last_activity": row.last_activity,
                "state_changed_at": related.state_changed_at,
                "created_at": related.created_at,
            }
        )
    return out


def _by_group(address: dict) -> str:
    return address["group"]


def _sorted(items: list, key=None) -> list:
    """``items`` sorted in place; most endpoints have none or one of each
    relation, and a page has a hundred of them."""
    if len(items) > 1:
        items.sort(key=key)
    return items


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
