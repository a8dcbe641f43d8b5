"""Admin pages of rows only the system writes (the audit log, jobs, RADIUS
sessions and disconnects): staff read them, and no one adds, edits or deletes
one by hand, so what they show stays what happened."""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete, whoever asks; put after ``RefusesNul``."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
