"""PATCH of an endpoint: the API's partial body turned into the edit screen's
form, so every rule and every message is the screen's own
(``inventory.forms.edit``, ``inventory.editing``); fields not sent keep their
values. Form fields are named back to the API's (``static_ip_12`` is
``body.static_ips.<group name>``) in the 422's ``errors``.
"""

from __future__ import annotations

from django.http import QueryDict

from api.problems import ProblemError
from api.schemas.endpoints import EndpointPatch
from inventory.editing import EditRefused, static_ip_key
from inventory.forms.edit import EndpointEditForm
from inventory.models import Endpoint, Group
from inventory.selectors import allocations_by_group, member_groups

_API_FIELD = {
    "name": "name",
    "reference": "reference",
    "tags": "tags",
    "imei_lock_enabled": "imei_lock.enabled",
    "imei": "imei_lock.imei",
    "secondary_groups": "secondary_groups",
}


def _refused(errors: dict[str | None, list[str]], names: dict[str, str]) -> ProblemError:
    listed = [
        {"field": "body" + (f".{names.get(field, field)}" if field else ""), "message": str(m)}
        for field, messages in errors.items()
        for m in messages
    ]
    return ProblemError(
        422, "; ".join(f"{e['field']}: {e['message']}" for e in listed), errors=listed
    )


def edit_form(*, endpoint: Endpoint, patch: EndpointPatch, account_groups: list[Group]):
    """The bound edit form for ``patch`` on ``endpoint`` (``endpoint_with_groups``),
    and the API names of its fields."""
    memberships = member_groups(endpoint)
    allocations = allocations_by_group(endpoint)
    groups = Group.objects.filter(account_id=endpoint.account_id).order_by("name", "pk")
    form = EndpointEditForm(
        endpoint=endpoint, memberships=memberships, allocations=allocations, groups=groups
    )
    data = QueryDict(mutable=True)
    for name, bound in form.initial.items():
        if name == "secondary_groups":
            data.setlist(name, [str(pk) for pk in bound])
        elif name == "imei_lock_enabled":
            if bound:
                data[name] = "on"
        else:
            data[name] = bound
    for field, _, _ in form.static_ip_fields:
        data[field.name] = field.initial or ""
    names = dict(_API_FIELD)
    for _, group, _ in form.static_ip_fields:
        names[static_ip_key(group.pk)] = f"static_ips.{group.name}"

    sent = patch.model_dump(exclude_unset=True)
    for name in ("name", "reference"):
        if name in sent:
            data[name] = sent[name] or ""
    if "tags" in sent:
        data["tags"] = ", ".join(sent["tags"] or [])
    lock = sent.get("imei_lock") or {}
    if lock.get("enabled") is not None:
        data.pop("imei_lock_enabled", None)
        if lock["enabled"]:
            data["imei_lock_enabled"] = "on"
    if lock.get("imei") is not None:
        data["imei"] = lock["imei"]
    by_name = {group.name: group for group in account_groups}
    if "secondary_groups" in sent:
        unknown = [n for n in sent["secondary_groups"] or [] if n not in by_name]
        if unknown:
            raise _refused(
                {"secondary_groups": [f"“{unknown[0]}” is not one of this account's groups."]},
                names,
            )
        data.setlist(
            "secondary_groups", [str(by_name[n].pk) for n in sent["secondary_groups"] or []]
        )
    if "static_ips" in sent:
        keys = {group.name: static_ip_key(group.pk) for _, group, _ in form.static_ip_fields}
        for group_name, address in (sent["static_ips"] or {}).items():
            if group_name not in keys:
                raise _refused(
                    {
                        f"static_ips.{group_name}": [
                            "Not one of this endpoint's groups: join it first (secondary_groups)."
                        ]
                    },
                    {},
                )
            data[keys[group_name]] = address or ""
    bound = EndpointEditForm(
        data, endpoint=endpoint, memberships=memberships, allocations=allocations, groups=groups
    )
    return bound, names


def check(form: EndpointEditForm, names: dict[str, str]) -> None:
    """Raise the 422 of an invalid form."""
    if not form.is_valid():
        raise _refused(
            {
                field if field != "__all__" else None: list(msgs)
                for field, msgs in form.errors.items()
            },
            names,
        )


def refused(exc: EditRefused, names: dict[str, str]) -> ProblemError:
    return _refused(exc.errors, names)
