"""Django admin for tenancy: accounts and who may do what in them."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from portal.changelists import RefusesNul
from portal.forms import AdminSignInForm
from portal.models import Account, Member

admin.site.login_form = AdminSignInForm


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0
    autocomplete_fields = ["user", "account"]


@admin.register(Account)
class AccountAdmin(RefusesNul, admin.ModelAdmin):
    list_display = ["name", "slug", "require_mfa", "created_at"]
    list_filter = ["require_mfa"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MemberInline]

    def get_readonly_fields(self, request, obj=None):
        # The slug names the account in commands (import_sims --account) and URLs.
        return ["slug"] if obj else []

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else self.prepopulated_fields


@admin.register(Member)
class MemberAdmin(RefusesNul, admin.ModelAdmin):
    list_display = ["user", "account", "role"]
    list_filter = ["role", "account"]
    list_select_related = ["user", "account"]
    search_fields = ["user__username", "user__email", "account__name", "account__slug"]
    autocomplete_fields = ["user", "account"]


User = get_user_model()


class PortalUserAdmin(RefusesNul, UserAdmin):
    """The stock user admin, plus the user's accounts and roles."""

    inlines = [*UserAdmin.inlines, MemberInline]


admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)


def _refusing_nul(model) -> None:
    """Register a library's admin of ``model`` again, with ``RefusesNul`` first."""
    library_admin = type(admin.site.get_model_admin(model))
    admin.site.unregister(model)
    admin.site.register(model, type(library_admin.__name__, (RefusesNul, library_admin), {}))


# Every library admin registered so far (Django's, django-axes', Procrastinate's:
# their apps come before ours in INSTALLED_APPS); ours put RefusesNul first themselves.
for _model, _model_admin in list(admin.site._registry.items()):
    if not isinstance(_model_admin, RefusesNul):
        _refusing_nul(_model)
