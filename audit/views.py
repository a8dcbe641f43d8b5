"""Account → Audit log, for account admins: who did what, when, from where;
filtered by actor, event and time, newest first, 50 a page (keyset on time,
then id), and the same selection as CSV. Another account's rows are never read."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from audit import export, selectors
from audit.forms import AuditFilterForm
from portal.models import Role
from portal.tenancy import member_required

PAGE_SIZE = 50
_FILTERS = ("actor", "action", "since", "until")


def _query(form: AuditFilterForm, **extra) -> str:
    params = {k: v for k in _FILTERS if (v := form.data.get(k))}
    return "?" + urlencode({**params, **extra}) if params or extra else "?"


@member_required(Role.ADMIN)
def audit_log(request):
    form = AuditFilterForm(request.GET)
    events = []
    older_url = ""
    if form.is_valid():
        events = list(
            selectors.account_events(
                account=request.account,
                limit=PAGE_SIZE + 1,
                before=form.cleaned_data["before"],
                **form.filters(),
            )
        )
        if len(events) > PAGE_SIZE:
            events = events[:PAGE_SIZE]
            older_url = _query(form, before=events[-1].pk)
    return render(
        request,
        "audit/audit_log.html",
        {
            "form": form,
            "events": events,
            "first_page": not request.GET.get("before"),
            "newest_url": _query(form),
            "older_url": older_url,
            "export_url": _query(form),
        },
    )


@member_required(Role.ADMIN)
def audit_export(request):
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        # The page itself shows what was wrong with the filters.
        return redirect(reverse("audit:audit_log") + _query(form))
    account, filters = request.account, form.filters()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        export.stream(
            page=lambda before, limit: selectors.account_events(
                account=account, limit=limit, before=before, **filters
            )
        ),
        content_type="text/csv",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="audit-log-{request.account.slug}-{stamp}.csv"'
    )
    return response
