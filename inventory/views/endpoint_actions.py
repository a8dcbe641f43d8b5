"""Suspend, terminate or reset the connectivity of one endpoint from its
detail page.

The same confirmation page as the bulk actions, given a one-endpoint queryset:
GET shows what will happen, the confirming POST acts and redirects to the
endpoint's detail with the result. An ICCID of another account is a 404.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse

from inventory import lifecycle
from inventory.forms.bulk import Selection
from inventory.models import Endpoint
from inventory.views.confirm import confirm_action, refuse_other_account
from portal.models import Permission
from portal.tenancy import member_required


def _single(request, iccid: str, action: str):
    # Before the lookup: the endpoint of the other account would only be a 404.
    if refused := refuse_other_account(request):
        return refused
    endpoints = Endpoint.objects.filter(account=request.account, iccid=iccid)
    endpoint = get_object_or_404(endpoints.only("iccid", "state"))
    detail = reverse("inventory:endpoint_detail", args=[endpoint.iccid])
    return confirm_action(
        request,
        action=action,
        selection=Selection(endpoints, select_all=False, ids=[endpoint.iccid], filter_query=""),
        groups=[],
        hidden_fields=[],
        done_url=detail,
        cancel_url=detail,
        form_url=request.path,
        single=endpoint,
    )


@member_required(Permission.OPERATE)
def suspend(request, iccid: str):
    return _single(request, iccid, lifecycle.SUSPEND)


@member_required(Permission.TERMINATE)
def terminate(request, iccid: str):
    return _single(request, iccid, lifecycle.TERMINATE)


@member_required(Permission.OPERATE)
def reset(request, iccid: str):
    return _single(request, iccid, lifecycle.RESET)
