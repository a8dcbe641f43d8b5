"""Django admin for API tokens: staff see every account's tokens and revoke
them; new ones are made with ``manage.py create_api_token`` (the only way the
plain token is ever shown) or by the account's admins."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

import audit
from api.models import ApiToken, RevokedBecause
from api.tokens import revoke_token
from audit.models import AuditAction
from portal.changelists import RefusesNul


@admin.register(ApiToken)
class ApiTokenAdmin(RefusesNul, admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "account",
        "role",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["role", "account"]
    search_fields = ["name", "prefix", "account__name", "account__slug"]
    readonly_fields = [
        "account",
        "name",
        "role",
        "prefix",
        "created_by",
        "created_by_label",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        """Each token revoked here is an audit row of its account (actor kind
        "staff"); one already revoked is left alone and writes none."""
        revoked = 0
        with transaction.atomic():
            for token in queryset.select_related("account").order_by("pk"):
                if revoke_token(token=token, because=RevokedBecause.SUPPORT):
                    revoked += 1
                    audit.record(
                        action=AuditAction.API_TOKEN_REVOKED,
                        account=token.account,
                        request=request,
                        target=token.name,
                        details={"token": token.pk, "reason": RevokedBecause.SUPPORT.value},
                    )
        messages.success(request, f"{revoked} token(s) revoked.")
