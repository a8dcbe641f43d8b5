"""Account → API tokens (``/account/api-tokens/``), for account admins: create
a token (shown once), see each token's role, expiry and last use, revoke one.
The list is paged (50 a page, newest first) and filtered by role, creator and
last use; every page and filter is a link.

The new token is shown in the answer to the POST that made it, and stored
nowhere (not in the session either; only its hash is kept): a reload asks the
browser to send the form again, which a second token of the same name refuses.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode

import audit
from api import selectors
from api.forms import DEFAULT_DAYS, ApiTokenFilterForm, ApiTokenForm
from api.models import ApiToken
from api.tokens import TokenRefused, create_token, revoke_token
from audit.models import AuditAction
from portal import access_log
from portal.models import Role
from portal.tenancy import member_required

PAGE_SIZE = 50
_FILTERS = ("role", "creator", "used", "days")


def _query(filters: ApiTokenFilterForm, **extra) -> str:
    """The list's URL query for these filters (as typed) and ``extra``."""
    params = {k: v for k in _FILTERS if (v := filters.data.get(k))}
    return "?" + urlencode({**params, **extra})


def _listing(request, filters: ApiTokenFilterForm) -> dict:
    """The page of tokens the filters ask for, with its navigation links."""
    if not filters.is_valid():
        return {"tokens": [], "page": None}
    paginator = Paginator(
        selectors.account_tokens(account=request.account, **filters.filters()), PAGE_SIZE
    )
    page = paginator.get_page(filters.cleaned_data["page"] or 1)
    return {
        "tokens": page.object_list,
        "page": page,
        "filtered": any(filters.cleaned_data[k] for k in ("role", "creator", "used")),
        "newer_url": _query(filters, page=page.previous_page_number())
        if page.has_previous()
        else "",
        "older_url": _query(filters, page=page.next_page_number()) if page.has_next() else "",
    }


@member_required(Role.ADMIN)
def token_list(request):
    creator_role = Role(request.member.role)
    form = ApiTokenForm(request.POST or None, creator_role=creator_role)
    new = None
    if request.method == "POST" and form.is_valid():
        try:
            token, plain = create_token(
                account=request.account,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                created_by=request.user,
                creator_role=creator_role,
                expires_at=form.expires_at(),
            )
        except TokenRefused as exc:
            form.add_error(exc.field, str(exc))
        else:
            audit.record(
                action=AuditAction.API_TOKEN_CREATED,
                account=request.account,
                request=request,
                target=token.name,
                details={"token": token.pk, "role": token.role},
            )
            access_log.annotate(request, action="api-token-created", token=token.pk)
            new = {"id": token.pk, "token": plain}
            form = ApiTokenForm(creator_role=creator_role)
    filters = ApiTokenFilterForm(request.GET, creators=selectors.creators(account=request.account))
    response = render(
        request,
        "api/token_list.html",
        {
            "form": form,
            "filters": filters,
            "default_days": DEFAULT_DAYS,
            **_listing(request, filters),
            "new_token": new["token"] if new else "",
            "new_token_id": new["id"] if new else None,
        },
        status=400 if form.errors else 200,
    )
    add_never_cache_headers(response)  # the new token is in it
    return response


@member_required(Role.ADMIN)
def token_revoke(request, pk: int):
    """GET asks; POST revokes (from the next request on)."""
    token = get_object_or_404(ApiToken.objects.filter(account=request.account), pk=pk)
    if request.method == "POST":
        if revoke_token(token=token):
            audit.record(
                action=AuditAction.API_TOKEN_REVOKED,
                account=request.account,
                request=request,
                target=token.name,
                details={"token": token.pk},
            )
            access_log.annotate(request, action="api-token-revoked", token=token.pk)
            messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
        else:
            messages.info(request, f"Token “{token.name}” was already revoked.")
        return redirect("api_tokens:token_list")
    return render(request, "api/token_revoke.html", {"token": token})
