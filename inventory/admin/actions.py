"""What support can do to many endpoints at once from the Django admin: the
lifecycle actions of the changelist and the SIM import upload.

Both call the same rules as the portal and ``manage.py`` (``lifecycle``,
``sim_import``) with the support user as actor, so the admin can never make a
transition the portal could not, and every change is in History.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from inventory import lifecycle
from inventory.history import Actor
from inventory.sim_import import ImportRejected, LineError, validate
from jobs.models import JobState
from jobs.services import start_import
from portal.models import Account

#: Rejected lines shown on the import page; the rest are counted.
SHOWN_IMPORT_ERRORS = 500

_RULES = {
    lifecycle.SUSPEND: lifecycle.suspend,
    lifecycle.TERMINATE: lifecycle.terminate,
    lifecycle.REINSTATE: lifecycle.reinstate,
}


def _act(model_admin, request, action: str, queryset) -> None:
    result = _RULES[action](
        endpoints=queryset, actor=Actor.for_support(request.user), reason="Django admin"
    )
    level = messages.SUCCESS if result.changed and not result.skipped else messages.WARNING
    model_admin.message_user(request, result.summary(), level)


@admin.action(description="Suspend selected endpoints", permissions=["change"])
def suspend_selected(model_admin, request, queryset):
    _act(model_admin, request, lifecycle.SUSPEND, queryset)


@admin.action(description="Terminate selected endpoints…", permissions=["change"])
def terminate_selected(model_admin, request, queryset):
    if request.POST.get("confirm") != "yes":
        return _confirm_terminate(model_admin, request, queryset)
    _act(model_admin, request, lifecycle.TERMINATE, queryset)


@admin.action(
    description="Reinstate selected endpoints (terminated ≤ 90 days ago → Pending)",
    permissions=["change"],
)
def reinstate_selected(model_admin, request, queryset):
    _act(model_admin, request, lifecycle.REINSTATE, queryset)


def _confirm_terminate(model_admin, request, queryset):
    """Terminating is not undone by the portal: say how many, show some, ask."""
    preview = lifecycle.preview(action=lifecycle.TERMINATE, endpoints=queryset)
    select_across = request.POST.get("select_across") == "1"
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Terminate endpoints?",
        "opts": model_admin.model._meta,
        "preview": preview,
        "sample": queryset.select_related("account")[:20],
        "selected": [] if select_across else request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": select_across,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(
        request, "admin/inventory/endpoint/terminate_confirmation.html", context
    )


class ImportSimsForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.all())
    file = forms.FileField(
        label="CSV file",
        help_text="Columns iccid, imsis (separated by ;), name, reference, tags. UTF-8.",
    )
    waive_check_digit = forms.BooleanField(
        required=False,
        label="Waive the ICCID check digit",
        help_text="Only for a supplier batch known to carry non-Luhn ICCIDs.",
    )


def import_sims_view(model_admin, request):
    """The same checks as ``manage.py import_sims``: all or nothing, every bad
    line listed by number, before anything is written. A clean file is then
    written as a job of action "import": inline up to 1,000 lines, else queued,
    and support follows its progress on the job's admin page."""
    if not model_admin.has_add_permission(request):
        return HttpResponseRedirect(reverse("admin:inventory_endpoint_changelist"))
    errors = []
    if request.method == "POST":
        form = ImportSimsForm(request.POST, request.FILES)
        if form.is_valid():
            account = form.cleaned_data["account"]
            try:
                rows = validate(
                    form.cleaned_data["file"].file,
                    waive_check_digit=form.cleaned_data["waive_check_digit"],
                )
            except ImportRejected as rejected:
                errors = rejected.errors
            else:
                job = start_import(account=account, user=request.user, rows=rows, request=request)
                if job.state == JobState.FAILED:
                    errors = [LineError(0, job.error)]
                elif not job.finished:
                    model_admin.message_user(
                        request,
                        f"{job.total:,} lines checked; importing them into {account.name} "
                        f"as job #{job.pk}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[job.pk]))
                else:
                    imsis = sum(len(row.imsis) for row in rows)
                    model_admin.message_user(
                        request,
                        f"{job.changed:,} endpoints with {imsis:,} IMSIs imported as Pending "
                        f"into {account.name}.",
                        messages.SUCCESS,
                    )
                    changelist = reverse("admin:inventory_endpoint_changelist")
                    return HttpResponseRedirect(
                        f"{changelist}?account__id__exact={account.pk}&state__exact=pending"
                    )
    else:
        form = ImportSimsForm()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import SIMs",
        "opts": model_admin.model._meta,
        "form": form,
        "errors": errors[:SHOWN_IMPORT_ERRORS],
        "error_count": len(errors),
        "more_errors": max(0, len(errors) - SHOWN_IMPORT_ERRORS),
    }
    return TemplateResponse(request, "admin/inventory/endpoint/import_sims.html", context)
