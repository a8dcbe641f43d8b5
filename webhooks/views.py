"""Account → Webhooks (/account/webhooks/): the account admins' webhooks, each
with its delivery log, "send test event" and "redeliver" (docs/webhooks.md).

Admins only (lower roles get 403); another account's webhook is a 404. The
signing secret is shown once, on the page right after it was made, and never
again: the session keeps only which webhook's secret to show (its id), never the
secret itself, which the page reads from the webhook.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from events.models import AccountEvent
from portal.models import Role
from portal.params import ascii_int
from portal.tenancy import member_required
from webhooks import selectors, services
from webhooks.forms import WebhookForm

_SECRET_KEY = "webhook_secret_once"


def _show_secret_once(request, webhook) -> None:
    request.session[_SECRET_KEY] = webhook.pk


def _form_errors(form: WebhookForm, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


@member_required(Role.ADMIN)
def webhook_list(request):
    webhooks = list(selectors.account_webhooks(account=request.account))
    return render(request, "webhooks/webhook_list.html", {"webhooks": webhooks})


@member_required(Role.ADMIN)
def webhook_create(request):
    form = WebhookForm(request.POST or None, initial={"enabled": True})
    if request.method == "POST" and form.is_valid():
        try:
            webhook = services.create_webhook(
                account=request.account, spec=form.spec(), request=request
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            _show_secret_once(request, webhook)
            messages.success(request, "Webhook added.")
            return redirect("webhooks:webhook_detail", pk=webhook.pk)
    return render(request, "webhooks/webhook_form.html", {"form": form, "webhook": None})


@member_required(Role.ADMIN)
def webhook_detail(request, pk: int):
    webhook = selectors.webhook_for(account=request.account, pk=pk)
    secret = webhook.secret if request.session.pop(_SECRET_KEY, None) == webhook.pk else ""
    before = ascii_int(request.GET.get("before", ""))
    attempts = selectors.delivery_log(webhook=webhook, before=before)
    return render(
        request,
        "webhooks/webhook_detail.html",
        {
            "webhook": webhook,
            "secret": secret,
            "attempts": attempts,
            "older": attempts[-1].pk if len(attempts) == selectors.LOG_SIZE else None,
        },
    )


@member_required(Role.ADMIN)
def webhook_edit(request, pk: int):
    webhook = selectors.webhook_for(account=request.account, pk=pk)
    initial = {
        "url": webhook.url,
        "description": webhook.description,
        "event_types": webhook.event_types,
        "enabled": webhook.enabled,
    }
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_webhook(webhook=webhook, spec=form.spec(), request=request)
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Webhook saved.")
            return redirect("webhooks:webhook_detail", pk=webhook.pk)
    return render(request, "webhooks/webhook_form.html", {"form": form, "webhook": webhook})


@member_required(Role.ADMIN)
def webhook_delete(request, pk: int):
    webhook = selectors.webhook_for(account=request.account, pk=pk)
    if request.method == "POST":
        with transaction.atomic():
            services.delete_webhook(webhook=webhook, request=request)
        messages.success(request, f"Webhook {webhook.url} deleted.")
        return redirect("webhooks:webhook_list")
    return render(request, "webhooks/webhook_confirm_delete.html", {"webhook": webhook})


@require_POST
@member_required(Role.ADMIN)
def webhook_rotate(request, pk: int):
    webhook = selectors.webhook_for(account=request.account, pk=pk)
    services.rotate_secret(webhook=webhook, request=request)
    _show_secret_once(request, webhook)
    messages.success(request, "New signing secret made; the old one signs nothing more.")
    return redirect("webhooks:webhook_detail", pk=webhook.pk)


def _refused_once(request, pk: int, error: services.AlreadyQueued):
    """The webhook's page with the refusal, as 409 Conflict (nothing queued)."""
    messages.error(request, str(error))
    response = webhook_detail(request, pk)
    response.status_code = 409
    return response


@require_POST
@member_required(Role.ADMIN)
def webhook_test(request, pk: int):
    webhook = selectors.webhook_for(account=request.account, pk=pk)
    try:
        services.send_test(webhook=webhook, request=request)
    except services.AlreadyQueued as error:
        return _refused_once(request, pk, error)
    messages.success(request, "Test event queued; its attempt appears below in a moment.")
    return redirect("webhooks:webhook_detail", pk=webhook.pk)


@require_POST
@member_required(Role.ADMIN)
def webhook_redeliver(request, pk: int):
    webhook = selectors.webhook_for(account=request.account, pk=pk)
    event_id = ascii_int(request.POST.get("event", ""))
    if event_id is None:
        raise Http404("No such event.")
    try:
        event = services.redeliver(webhook=webhook, event_id=event_id, request=request)
    except AccountEvent.DoesNotExist as exc:
        raise Http404("No such event.") from exc
    except services.AlreadyQueued as error:
        return _refused_once(request, pk, error)
    messages.success(request, f"Event {event.webhook_id} queued for redelivery.")
    return redirect("webhooks:webhook_detail", pk=webhook.pk)
