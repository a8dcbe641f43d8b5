"""Edit one endpoint: name, reference, tags, IMEI lock, secondary groups and a
static address per group membership.

GET shows the form; a valid POST applies it through ``editing.apply_edit`` (one
transaction, one "edited" History row) and redirects to the overview. A
terminated endpoint shows why it cannot be edited, and a POST to it is refused.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from inventory.editing import TERMINATED_MESSAGE, EditRefused, account_tags, apply_edit
from inventory.forms.edit import TAGS_DATALIST_ID, EndpointEditForm
from inventory.history import Actor
from inventory.models import Group, State
from inventory.selectors import (
    allocations_by_group,
    endpoint_with_groups,
    member_groups,
)
from portal.models import Permission
from portal.tenancy import member_required


@member_required(Permission.OPERATE)
def edit(request, iccid: str):
    endpoint = endpoint_with_groups(request.account, iccid)
    context = {"endpoint": endpoint}
    if endpoint.state == State.TERMINATED:
        context["refused"] = TERMINATED_MESSAGE
        status = 409 if request.method == "POST" else 200
        return render(request, "inventory/endpoint_edit.html", context, status=status)

    form = EndpointEditForm(
        request.POST if request.method == "POST" else None,
        endpoint=endpoint,
        memberships=member_groups(endpoint),
        allocations=allocations_by_group(endpoint),
        groups=Group.objects.filter(account=request.account).order_by("name", "pk"),
    )
    if request.method == "POST" and form.is_valid():
        try:
            result = apply_edit(
                endpoint=endpoint, edit=form.to_edit(), actor=Actor.for_user(request.user)
            )
        except EditRefused as refused:
            for field, errors in refused.errors.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if result.changed:
                messages.success(request, f"Endpoint {endpoint.iccid} saved.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("inventory:endpoint_detail", iccid=endpoint.iccid)

    context.update(
        form=form,
        tags_datalist_id=TAGS_DATALIST_ID,
        tag_suggestions=account_tags(account_id=request.account.pk),
    )
    return render(request, "inventory/endpoint_edit.html", context)
