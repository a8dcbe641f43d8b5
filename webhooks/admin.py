"""Webhooks in the Django admin, for staff: every account's webhooks (enable,
disable, see why one was disabled), their events and delivery attempts
(read-only). Webhooks are added by the account admins in the portal, where the
URL is checked and the secret shown once; here the secret is never shown."""

from __future__ import annotations

from django.contrib import admin

from events.models import AccountEvent
from portal.changelists import RefusesNul
from webhooks.models import Attempt, Webhook


@admin.register(Webhook)
class WebhookAdmin(RefusesNul, admin.ModelAdmin):
    list_display = ["id", "account", "url", "enabled", "created_at"]
    list_filter = ["enabled"]
    list_select_related = ["account"]
    search_fields = ["=id", "url"]
    ordering = ["-id"]
    fields = [
        "account",
        "url",
        "description",
        "event_types",
        "enabled",
        "disabled_reason",
        "created_at",
        "secret_rotated_at",
    ]
    readonly_fields = ["account", "url", "event_types", "created_at", "secret_rotated_at"]

    def has_add_permission(self, request):
        return False


@admin.register(AccountEvent)
class AccountEventAdmin(RefusesNul, admin.ModelAdmin):
    list_display = ["id", "account", "type", "endpoint_id", "seq", "created_at"]
    list_filter = ["type"]
    list_select_related = ["account"]
    search_fields = ["=id", "=endpoint_id"]
    ordering = ["-id"]
    show_full_result_count = False
    fields = ["account", "type", "endpoint_id", "payload", "seq", "lane", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Attempt)
class AttemptAdmin(RefusesNul, admin.ModelAdmin):
    list_display = ["id", "webhook", "event_id", "kind", "at", "status_code", "latency_ms", "ok"]
    list_filter = ["ok", "kind"]
    list_select_related = ["webhook"]
    search_fields = ["=id", "=event__id"]
    ordering = ["-id"]
    show_full_result_count = False
    fields = ["webhook", "event", "kind", "at", "status_code", "latency_ms", "ok", "error_label"]
    readonly_fields = fields

    @admin.display(description="error")
    def error_label(self, obj: Attempt) -> str:
        """The error's class (webhooks.errors), never the receiver's bytes."""
        return obj.error_label

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
