"""Account → API tokens (``/account/api-tokens/``), for account admins: create
a token (shown once), see each token's role, expiry and last use, revoke one.

The new token is shown in the answer to the POST that made it, and stored
nowhere (not in the session either; only its hash is kept): a reload asks the
browser to send the form again, which a second token of the same name refuses.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers

import audit
from api.forms import ApiTokenForm
from api.models import ApiToken
from api.tokens import TokenRefused, create_token, revoke_token
from audit.models import AuditAction
from portal import access_log
from portal.models import Role
from portal.tenancy import member_required


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
    tokens = ApiToken.objects.filter(account=request.account).order_by("-created_at", "-pk")
    response = render(
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
