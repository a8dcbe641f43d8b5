"""Django admin for stock and self-service activation: the SIMs awaiting a
customer (loaded by ``import_sims --stock``), who claimed which, and the
refused attempts and blocks of the brute-force limit (docs/activation.md).

Stock rows are written by the import and claimed by ``activation.activate``
only, so they are read-only here (an unclaimed one may be deleted, e.g. a SIM
lost in the warehouse). A block may be deleted to lift it early.
"""

from __future__ import annotations

from django.contrib import admin

from inventory.models import ActivationBlock, ActivationFailure, StockSim
from portal.changelists import RefusesNul
from portal.paging import LargeTableAdmin


class ClaimedFilter(admin.SimpleListFilter):
    title = "claimed"
    parameter_name = "claimed"

    def lookups(self, request, model_admin):
        return [("no", "Awaiting activation"), ("yes", "Claimed")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(claimed_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(claimed_at__isnull=False)
        return queryset


@admin.register(StockSim)
class StockSimAdmin(LargeTableAdmin):
    list_display = ["iccid", "imsi_list", "created_at", "claimed_at", "claimed_by"]
    list_filter = [ClaimedFilter, "claimed_by"]
    list_select_related = ["claimed_by"]
    search_fields = ["=iccid"]
    readonly_fields = ["iccid", "imsis", "created_at", "claimed_at", "claimed_by"]
    exclude = ["code_hash"]

    @admin.display(description="IMSIs")
    def imsi_list(self, obj: StockSim) -> str:
        return ", ".join(obj.imsis)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.claimed_at is None


@admin.register(ActivationFailure)
class ActivationFailureAdmin(RefusesNul, admin.ModelAdmin):
    list_display = ["at", "label", "who", "account", "iccid", "ip"]
    list_filter = ["account"]
    list_select_related = ["account"]
    search_fields = ["=label", "=who", "=iccid"]
    date_hierarchy = "at"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ActivationBlock)
class ActivationBlockAdmin(RefusesNul, admin.ModelAdmin):
    list_display = ["label", "who", "at", "until"]
    search_fields = ["=label", "=who"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
