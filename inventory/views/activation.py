"""Inventory → Activate SIMs: a member (operator or admin) types the ICCID and
activation code of a SIM from stock, or uploads a small CSV of pairs, and each
SIM becomes a Pending endpoint of the current account (``activation.activate``;
docs/activation.md)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from inventory.activation import (
    ActivationRefused,
    BatchRejected,
    activate,
    activate_pairs,
    blocked_message,
    current_block,
    parse_pairs,
    who_for_user,
)
from inventory.forms.activation import ActivationForm
from inventory.history import Actor
from portal.client_ip import client_ip
from portal.models import Permission
from portal.tenancy import member_required


@member_required(Permission.OPERATE)
def activate_sims(request):
    form = ActivationForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        actor = Actor.for_user(request.user)
        ip = client_ip(request)
        if form.cleaned_data.get("file"):
            try:
                pairs = parse_pairs(form.cleaned_data["file"])
            except BatchRejected as rejected:
                context["file_errors"] = rejected.errors
            else:
                outcomes = activate_pairs(account=request.account, actor=actor, pairs=pairs, ip=ip)
                context["outcomes"] = outcomes
                context["activated"] = sum(1 for outcome in outcomes if outcome.endpoint)
        else:
            try:
                endpoint = activate(
                    account=request.account,
                    actor=actor,
                    iccid=form.cleaned_data["iccid"],
                    code=form.cleaned_data["code"],
                    ip=ip,
                )
            except ActivationRefused as refused:
                context["refused"] = refused.message
            else:
                messages.success(
                    request,
                    f"SIM {endpoint.iccid} activated: it is a Pending endpoint of "
                    f"{request.account.name}. Assign it to a group to put it in service.",
                )
                return redirect("inventory:endpoint_detail", iccid=endpoint.iccid)
    if "refused" not in context:
        block = current_block(
            who=who_for_user(request.user), account_id=request.account.pk, ip=client_ip(request)
        )
        if block:
            context["blocked"] = blocked_message(block.until, block.who)
    return render(request, "inventory/activate.html", context)
