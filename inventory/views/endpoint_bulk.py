"""Bulk Assign to group, Suspend and Terminate from the endpoint list.

The list posts its selection here; the answer is a confirmation page (how many
will change, a sample, what will be skipped and why). Only the confirmation's own
POST (``confirm=1``) acts, as a job (``jobs.services.start``): up to 1,000
endpoints in the request, back to the list with the counts (post/redirect/get);
more on the queue, and the user lands on the job's page. Single suspend and
terminate on the detail page use the same confirmation (``confirm_action``).
"""

from __future__ import annotations

import logging
from functools import wraps

from django.contrib import messages
from django.core.exceptions import TooManyFieldsSent
from django.db.models import QuerySet
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

import jobs.services
from inventory import lifecycle
from inventory.forms_bulk import (
    TYPED_COUNT_ABOVE,
    ConfirmForm,
    GroupChoiceForm,
    SelectionError,
    parse_selection,
)
from inventory.models import Endpoint, Group
from inventory.views.endpoint_list import account_groups, clean_view_query
from portal import access_log
from portal.request_id import current_request_id
from portal.tenancy import member_required

audit = logging.getLogger("inventory.audit")
SAMPLE_SIZE = 10

_TITLES = {
    lifecycle.ASSIGN: "Assign to group",
    lifecycle.SUSPEND: "Suspend",
    lifecycle.TERMINATE: "Terminate",
}


def field_limit_guard(view):
    """Answer a POST with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS with a
    page that explains what to do instead (Django would raise a bare 400).

    The body has to be parsed before the CSRF check (which reads the token from
    it), so the check is applied here, after the guard, instead of by the
    middleware."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            try:
                request.POST  # noqa: B018 - parsing is what may fail
            except TooManyFieldsSent:
                return render(
                    request, "inventory/confirm_action.html", {"too_many": True}, status=400
                )
        return protected(request, *args, **kwargs)

    return wrapped


def list_url(filter_query: str) -> str:
    query = clean_view_query(QueryDict(filter_query)).urlencode()
    return reverse("inventory:endpoint_list") + (f"?{query}" if query else "")


def confirm_action(
    request,
    *,
    action: str,
    endpoints: QuerySet[Endpoint],
    groups: list[Group],
    hidden_fields: list[tuple[str, str]],
    done_url: str,
    cancel_url: str,
    form_url: str,
    single: Endpoint | None = None,
    select_all: bool = False,
):
    """The confirmation page of ``action`` on ``endpoints`` and, on its confirming
    POST, the action itself. Everything shown is recomputed on every request, so
    the typed count is checked against what will really change."""
    group_form = None
    group = None
    if action == lifecycle.ASSIGN:
        group_form = GroupChoiceForm(request.POST, groups=groups)
        group = group_form.chosen
    preview = None
    if action != lifecycle.ASSIGN or group is not None:
        preview = lifecycle.preview(action=action, endpoints=endpoints, group=group)
    must_type = None
    if action == lifecycle.TERMINATE and preview and preview.will_change > TYPED_COUNT_ABOVE:
        must_type = preview.will_change
    confirming = request.POST.get("confirm") == "1"
    form = ConfirmForm(request.POST if confirming else None, must_type=must_type)
    if confirming and preview and preview.will_change and form.is_valid():
        job = jobs.services.start(
            account=request.account,
            user=request.user,
            action=action,
            endpoints=endpoints,
            group=group,
            reason=form.cleaned_data["reason"],
        )
        if not job.finished:  # more than INLINE_LIMIT: a worker does it
            access_log.annotate(request, action=action, job=job.pk)
            messages.info(request, f"Job #{job.pk} queued: {job.total:,} endpoints.")
            return redirect(job)
        result = job.result()
        audit.info(
            "bulk action=%s user=%s account=%s changed=%d skipped=%s group=%s request_id=%s",
            action,
            request.user.get_username(),
            request.account.slug,
            result.changed,
            sum(result.skipped.values()),
            group.pk if group else "-",
            current_request_id(),
            extra={
                "action": action,
                "account": request.account.slug,
                "changed": result.changed,
                "skipped": result.skipped,
                "batch": str(result.batch),
            },
        )
        access_log.annotate(
            request,
            action=action,
            changed=result.changed,
            skipped=sum(result.skipped.values()),
            batch=result.batch,
        )
        messages.success(request, result.summary())
        return redirect(done_url)
    sample = list(endpoints.order_by("iccid").only("iccid", "state")[:SAMPLE_SIZE])
    if not sample and select_all:
        messages.info(request, "No endpoints match this filter any more; nothing to do.")
        return redirect(cancel_url)
    if not sample:
        raise Http404("None of the selected endpoints is in this account.")
    context = {
        "action": action,
        "title": _TITLES[action],
        "preview": preview,
        "sample": sample,
        "selected": (preview.will_change + sum(preview.skipped.values())) if preview else None,
        "group_form": group_form,
        "group": group,
        "form": form,
        "must_type": must_type,
        "hidden_fields": hidden_fields,
        "form_url": form_url,
        "cancel_url": cancel_url,
        "single": single,
    }
    return render(request, "inventory/confirm_action.html", context)


def _bulk(request, action: str):
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
        endpoints=selection.endpoints,
        groups=groups,
        hidden_fields=selection.hidden_fields(),
        done_url=back,
        cancel_url=back,
        form_url=request.path,
        select_all=selection.select_all,
    )


@field_limit_guard
@member_required("operate")
@require_POST
def bulk_assign(request):
    return _bulk(request, lifecycle.ASSIGN)


@field_limit_guard
@member_required("operate")
@require_POST
def bulk_suspend(request):
    return _bulk(request, lifecycle.SUSPEND)


@field_limit_guard
@member_required("terminate")
@require_POST
def bulk_terminate(request):
    return _bulk(request, lifecycle.TERMINATE)
