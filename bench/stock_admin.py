"""Django admin's Endpoint changelist as it stands stock: what an operator would
use instead of the portal. The benchmark times the same pages through it.

Deliberately untuned: no custom paginator, no count tweaks, the search and
filters a developer would declare first. Mounted only by bench/urls.py."""

from django.contrib import admin

from inventory.models import Endpoint


class StockEndpointAdmin(admin.ModelAdmin):
    list_display = ["iccid", "name", "state", "primary_group", "last_activity"]
    list_filter = ["state", "primary_group"]
    search_fields = ["iccid", "name", "reference", "imsis__imsi"]
    list_select_related = ["primary_group"]
    list_per_page = 50
    # Django's own template: the project's admin overrides the Endpoint changelist
    # with links that exist only on its own site. (Its inventory pagination
    # template, which only words the count differently, still applies.)
    change_list_template = "admin/change_list.html"


stock_site = admin.AdminSite(name="stock_admin")
stock_site.register(Endpoint, StockEndpointAdmin)
