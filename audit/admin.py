"""The audit log in Django admin: staff see every account's rows, read-only
(the log is a record; nobody adds, edits or deletes a row by hand)."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent
from portal.paging import LargeTableAdmin
from portal.read_only_admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(LargeTableAdmin, ReadOnlyAdmin):
    """A year of every account's events: counted within bounds like the other
    tables of millions (portal/paging.py)."""

    list_display = ["id", "created_at", "account", "action", "actor_kind", "actor_label", "ip"]
    list_filter = ["action", "actor_kind"]
    list_select_related = ["account"]
    search_fields = ["=actor_label", "=target", "=account__slug"]
    ordering = ["-id"]
    fields = [
        "created_at",
        "account",
        "action",
        "actor_kind",
        "actor",
        "actor_label",
        "ip",
        "target",
        "details",
    ]
    readonly_fields = fields
