"""Bulk "Set key value" from the endpoint list: the selection (ticked ICCIDs or
all matching) gets a page that asks for the key and value, shows how many
endpoints will change and what will be skipped, and on its confirming POST
starts the job (``jobs.services.start_set_key_value``; up to 1,000 endpoints
in the request). The signed confirmation binds the account, the selection,
the pair and the count, as the lifecycle actions' does (``confirm``)."""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

import jobs.services
from inventory.forms.bulk import Confirmation, SelectionError, parse_selection
from inventory.forms.key_values import KeyValueForm
from inventory.key_values import SetResult, preview_set_key_value
from inventory.models import Endpoint
from inventory.selectors import account_groups
from inventory.views.confirm import (
    CONFIRMATION_FIELD,
    REFUSED_MESSAGES,
    SAMPLE_SIZE,
    field_limit_guard,
    list_url,
    posted_confirmation,
    refusal_of,
    refuse_other_account,
)
from jobs.models import Action
from portal import access_log
from portal.models import Permission
from portal.tenancy import member_required


def _pair_digest(key: str, value: str) -> str:
    return hashlib.sha256(f"{key}:{value}".encode()).hexdigest()[:32]


@field_limit_guard
@member_required(Permission.OPERATE)
@require_POST
def bulk_set_key_value(request):
    if refused := refuse_other_account(request):
        return refused
    try:
        selection = parse_selection(
            data=request.POST,
            endpoints=Endpoint.objects.filter(account=request.account),
            account_id=request.account.pk,
            groups=account_groups(request.account),
        )
    except SelectionError as exc:
        messages.error(request, str(exc))
        return redirect(list_url(request.POST.get("filter", "")))
    back = list_url(selection.filter_query)
    endpoints = selection.endpoints
    form = KeyValueForm(request.POST if "key" in request.POST else None)
    preview = shown = None
    if form.is_bound and form.is_valid():
        key, value = form.cleaned_data["key"], form.cleaned_data["value"]
        preview = preview_set_key_value(endpoints=endpoints, key=key, value=value)
        shown = Confirmation(
            account_id=request.account.pk,
            action=Action.SET_KEY_VALUE.value,
            selection=f"{selection.digest()}|{_pair_digest(key, value)}",
            group_id=None,
            count=preview.changed,
        )
    confirming = request.POST.get("confirm") == "1" and shown is not None
    posted = posted_confirmation(request)
    refusal = refusal_of(posted, shown) if confirming else None
    if refusal:
        access_log.annotate(request, refused=refusal)
    if confirming and not refusal and preview.changed:
        job = jobs.services.start_set_key_value(
            account=request.account,
            user=request.user,
            endpoints=endpoints,
            key=form.cleaned_data["key"],
            value=form.cleaned_data["value"],
        )
        access_log.annotate(request, action=Action.SET_KEY_VALUE.value, job=job.pk)
        if not job.finished:
            messages.info(request, f"Job #{job.pk} queued: {job.total:,} endpoints.")
            return redirect(job)
        messages.success(request, SetResult(job.changed, job.skipped).summary(key=job.key) + ".")
        return redirect(back)
    sample = list(endpoints.order_by("iccid").only("iccid", "state")[:SAMPLE_SIZE])
    if not sample and selection.select_all:
        messages.info(request, "No endpoints match this filter any more; nothing to do.")
        return redirect(back)
    if not sample:
        raise Http404("None of the selected endpoints is in this account.")
    context = {
        "form": form,
        "preview": preview,
        "summary": preview.summary(key=form.cleaned_data["key"], done=False) if preview else "",
        "selected": preview.changed + sum(preview.skipped.values()) if preview else None,
        "sample": sample,
        "hidden_fields": selection.hidden_fields(),
        "confirmation": shown.sign() if shown else "",
        "confirmation_field": CONFIRMATION_FIELD,
        "refused": REFUSED_MESSAGES.get(refusal),
        "confirmed_count": posted.count if refusal == "count-changed" else None,
        "cancel_url": back,
    }
    return render(request, "inventory/confirm_key_value.html", context)
