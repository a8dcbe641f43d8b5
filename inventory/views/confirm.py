"""The confirmation flow shared by the bulk actions and the single-endpoint ones.

A selection posted here gets a confirmation page (how many will change, a
sample, what will be skipped and why). Only the confirmation's own
POST (``confirm=1``) acts, as a job (``jobs.services.start``): up to 1,000
endpoints in the request, back to the list with the counts (post/redirect/get);
more on the queue, and the user lands on the job's page. Single suspend and
terminate on the detail page use the same confirmation (``confirm_action``).

The confirming POST acts only on what the page showed: its signed
``Confirmation`` must name the current account, the same action, selection and
group, and the number that would change now. Otherwise nothing changes and the
user is told why (and shown the page again where that makes sense).
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

import jobs.services
from inventory import lifecycle
from inventory.filters import clean_view_query
from inventory.forms.bulk import (
    MAX_REASON,
    TYPED_COUNT_ABOVE,
    Confirmation,
    ConfirmForm,
    GroupChoiceForm,
    Selection,
)
from inventory.models import Endpoint, Group
from jobs.models import Job
from portal import access_log
from portal.models import Account
from portal.request_id import current_request_id

audit = logging.getLogger("inventory.audit")
SAMPLE_SIZE = 10

_TITLES = {
    lifecycle.ASSIGN: "Assign to group",
    lifecycle.SUSPEND: "Suspend",
    lifecycle.TERMINATE: "Terminate",
    lifecycle.RESET: "Reset connectivity",
}
_VERBS = {
    lifecycle.ASSIGN: "assigned to",
    lifecycle.SUSPEND: "suspended",
    lifecycle.TERMINATE: "terminated",
    lifecycle.RESET: "reset (their data sessions end, the devices connect again)",
}
#: The form field that carries the signed ``Confirmation``.
CONFIRMATION_FIELD = "confirmation"
#: Why a confirming POST did not act (the page then shows itself again).
REFUSED_MESSAGES = {
    "unchecked": (
        "This confirmation could not be checked (it is incomplete or was altered). "
        "Nothing was changed; check what is shown below and confirm again."
    ),
    "not-the-same": (
        "This confirmation was shown for another action, selection or group than the "
        "one posted. Nothing was changed; check what is shown below and confirm again."
    ),
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


def posted_confirmation(request) -> Confirmation | None:
    if request.POST.get("confirm") != "1":
        return None
    return Confirmation.read(request.POST.get(CONFIRMATION_FIELD, ""))


def refuse_other_account(request):
    """A confirmation shown in another account than the current one (the user
    switched account in another tab) goes back to the current account's list
    with a message naming both; None when the confirmation is not of that kind.

    Checked before the selection is looked up, so that nothing of the current
    account is acted on or shown in its place."""
    posted = posted_confirmation(request)
    if posted is None or posted.account_id == request.account.pk:
        return None
    shown_in = (
        Account.objects.filter(pk=posted.account_id, members__user=request.user)
        .values_list("name", flat=True)
        .first()
    )
    messages.error(
        request,
        f"This confirmation was shown in {shown_in or 'another account'}, but your current "
        f"account is now {request.account.name}. Nothing was changed. To act in "
        f"{shown_in or 'that account'}, switch back to it and start again.",
    )
    access_log.annotate(request, refused="other-account")
    return redirect("inventory:endpoint_list")


def refusal_of(posted: Confirmation | None, shown: Confirmation) -> str | None:
    """Why the confirming POST must not act, as ``access_log`` records it."""
    if posted is None:
        return "unchecked"
    if not posted.same_request(shown):
        return "not-the-same"
    if posted.count != shown.count:
        return "count-changed"
    return None


def _act(
    request,
    *,
    action: str,
    endpoints: QuerySet[Endpoint],
    group: Group | None,
    form: ConfirmForm,
) -> Job:
    """Start the confirmed action as a job and log who did what. Up to
    ``jobs.services.INLINE_LIMIT`` endpoints the job has run when this returns;
    more are queued for a worker."""
    job = jobs.services.start(
        account=request.account,
        user=request.user,
        action=action,
        endpoints=endpoints,
        group=group,
        reason=form.cleaned_data["reason"],
        request=request,
    )
    if not job.finished:
        access_log.annotate(request, action=action, job=job.pk)
        return job
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
        job=job.pk,
    )
    return job


def confirm_action(
    request,
    *,
    action: str,
    selection: Selection,
    groups: list[Group],
    hidden_fields: list[tuple[str, str]],
    done_url: str,
    cancel_url: str,
    form_url: str,
    single: Endpoint | None = None,
):
    """The confirmation page of ``action`` on the ``selection`` and, on its
    confirming POST, the action itself. Everything shown is recomputed on every
    request and compared with what the confirmed page showed, so the user acts
    on the account, endpoints and number they read, or is asked again."""
    endpoints = selection.endpoints
    group_form = None
    group = None
    if action == lifecycle.ASSIGN:
        group_form = GroupChoiceForm(request.POST, groups=groups)
        group = group_form.chosen
    preview = None
    shown = None
    if action != lifecycle.ASSIGN or group is not None:
        preview = lifecycle.preview(action=action, endpoints=endpoints, group=group)
        shown = Confirmation(
            account_id=request.account.pk,
            action=action,
            selection=selection.digest(),
            group_id=group.pk if group else None,
            count=preview.will_change,
        )
    must_type = None
    if action == lifecycle.TERMINATE and preview and preview.will_change > TYPED_COUNT_ABOVE:
        must_type = preview.will_change
    confirming = request.POST.get("confirm") == "1" and shown is not None
    posted = posted_confirmation(request)
    refusal = refusal_of(posted, shown) if confirming else None
    if refusal:
        access_log.annotate(request, refused=refusal)
    form = ConfirmForm(
        request.POST if confirming and not refusal else None,
        must_type=must_type,
        initial={"reason": request.POST.get("reason", "")[:MAX_REASON]},
    )
    if confirming and not refusal and preview.will_change and form.is_valid():
        job = _act(request, action=action, endpoints=endpoints, group=group, form=form)
        if not job.finished:
            messages.info(request, f"Job #{job.pk} queued: {job.total:,} endpoints.")
            return redirect(job)
        messages.success(request, job.result().summary())
        return redirect(done_url)
    sample = list(endpoints.order_by("iccid").only("iccid", "state")[:SAMPLE_SIZE])
    if not sample and selection.select_all:
        messages.info(request, "No endpoints match this filter any more; nothing to do.")
        return redirect(cancel_url)
    if not sample:
        raise Http404("None of the selected endpoints is in this account.")
    context = {
        "action": action,
        "title": _TITLES[action],
        "verb": _VERBS[action],
        "preview": preview,
        "sample": sample,
        "selected": (preview.will_change + sum(preview.skipped.values())) if preview else None,
        "group_form": group_form,
        "group": group,
        "form": form,
        "must_type": must_type,
        "hidden_fields": hidden_fields,
        "confirmation": shown.sign() if shown else "",
        "refused": REFUSED_MESSAGES.get(refusal),
        "confirmed_count": posted.count if refusal == "count-changed" else None,
        "form_url": form_url,
        "cancel_url": cancel_url,
        "single": single,
    }
    return render(request, "inventory/confirm_action.html", context)
