"""Bulk Assign to group, Suspend and Terminate from the endpoint list.

The list posts its selection (ticked ICCIDs or "all matching") here; what
follows is the shared confirmation flow of ``inventory.views.confirm``.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from inventory import lifecycle
from inventory.forms.bulk import SelectionError, parse_selection
from inventory.models import Endpoint
from inventory.selectors import account_groups
from inventory.views.confirm import (
    confirm_action,
    field_limit_guard,
    list_url,
    refuse_other_account,
)
from portal.models import Permission
from portal.tenancy import member_required


def _bulk(request, action: str):
    if refused := refuse_other_account(request):
        return refused
    groups = account_groups(request.account)
    try:
        selection = parse_selection(
            data=request.POST,
            endpoints=Endpoint.objects.filter(account=request.account),
            account_id=request.account.pk,
            groups=groups,
        )
    except SelectionError as exc:
        messages.error(request, str(exc))
        return redirect(list_url(request.POST.get("filter", "")))
    back = list_url(selection.filter_query)
    return confirm_action(
        request,
        action=action,
        selection=selection,
        groups=groups,
        hidden_fields=selection.hidden_fields(),
        done_url=back,
        cancel_url=back,
        form_url=request.path,
    )


@field_limit_guard
@member_required(Permission.OPERATE)
@require_POST
def bulk_assign(request):
    return _bulk(request, lifecycle.ASSIGN)


@field_limit_guard
@member_required(Permission.OPERATE)
@require_POST
def bulk_suspend(request):
    return _bulk(request, lifecycle.SUSPEND)


@field_limit_guard
@member_required(Permission.OPERATE)
@require_POST
def bulk_reset(request):
    return _bulk(request, lifecycle.RESET)


@field_limit_guard
@member_required(Permission.TERMINATE)
@require_POST
def bulk_terminate(request):
    return _bulk(request, lifecycle.TERMINATE)
