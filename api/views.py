"""Account → API tokens (``/account/api-tokens/``), for account admins: create
a token (shown once), see each token's role, expiry and last use, revoke one.

The new token is kept in the session only until the page after the redirect
shows it, so a reload neither shows it again nor creates a second one.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

import audit
from api.forms import ApiTokenForm
from api.models import ApiToken
from api.tokens import TokenRefused, create_token, revoke_token
from audit.models import AuditAction
from portal import access_log
from portal.models import Role
from portal.tenancy import member_required

_SHOW_ONCE = "api.new-token"


@member_required(Role.ADMIN)
def token_list(request):
    creator_role = Role(request.member.role)
    form = ApiTokenForm(request.POST or None, creator_role=creator_role)
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
            form.add_error("name" if "named" in str(exc) else None, str(exc))
        else:
            audit.record(
                action=AuditAction.API_TOKEN_CREATED,
                account=request.account,
                request=request,
                target=token.name,
                details={"token": token.pk, "role": token.role},
            )
            access_log.annotate(request, action="api-token-created", token=token.pk)
            request.session[_SHOW_ONCE] = {"id": token.pk, "token": plain}
            return redirect("api_tokens:token_list")
    new = request.session.pop(_SHOW_ONCE, None)
    tokens = ApiToken.objects.filter(account=request.account).order_by("-created_at", "-pk")
    return render(
        request,
        "api/token_list.html",
        {
            "form": form,
            "tokens": tokens[:200],
            "new_token": new["token"] if new else "",
            "new_token_id": new["id"] if new else None,
        },
        status=400 if form.errors else 200,
    )


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
