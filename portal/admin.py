"""Django admin for tenancy: accounts and who may do what in them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

import audit
from audit.models import AuditAction
from portal.changelists import RefusesNul
from portal.forms import AdminSignInForm
from portal.models import Account, Member

admin.site.login_form = AdminSignInForm


def _audit_member(request, member: Member, action: AuditAction, **details) -> None:
    """Support changing a membership in Django admin is in the account's audit log
    (actor kind "staff" unless the staff user is a member of the account)."""
    audit.record(
        action=action,
        account=member.account,
        request=request,
        target=member.user.get_username(),
        details=details,
    )


def _follow(request, member: Member, role: str | None) -> None:
    """The member's tokens and invitations follow the change (team/grants.py),
    in the admin's transaction; the staff user is told what changed."""
    from team.grants import follow_membership

    followed = follow_membership(
        account=member.account, user=member.user, role=role, request=request
    )
    if followed:
        messages.warning(request, followed.sentence(member.user.get_username()))


def _audit_member_change(request, member: Member, *, created: bool, before: str | None) -> None:
    if created:
        _audit_member(request, member, AuditAction.MEMBER_JOINED, role=member.role, by="support")
    elif before != member.role:
        _audit_member(
            request, member, AuditAction.MEMBER_ROLE_CHANGED, **{"from": before, "to": member.role}
        )
        _follow(request, member, member.role)


def _member_removed(request, member: Member) -> None:
    _audit_member(request, member, AuditAction.MEMBER_REMOVED, role=member.role)
    _follow(request, member, None)


class AuditsMemberInlines:
    """For admins with a MemberInline: each membership added, changed or deleted
    through it is one audit row."""

    def save_formset(self, request, form, formset, change):
        if formset.model is not Member:
            return super().save_formset(request, form, formset, change)
        before = {
            f.instance.pk: Member.objects.filter(pk=f.instance.pk)
            .values_list("role", flat=True)
            .first()
            for f in formset.forms
            if f.instance.pk
        }
        super().save_formset(request, form, formset, change)
        for member in formset.new_objects:
            _audit_member_change(request, member, created=True, before=None)
        for member, _fields in formset.changed_objects:
            _audit_member_change(request, member, created=False, before=before.get(member.pk))
        for member in formset.deleted_objects:
            _member_removed(request, member)


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0
    autocomplete_fields = ["user", "account"]


@admin.register(Account)
class AccountAdmin(RefusesNul, AuditsMemberInlines, admin.ModelAdmin):
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
    list_display = ["user", "account", "role", "joined_at"]
    readonly_fields = ["joined_at"]
    list_filter = ["role", "account"]
    list_select_related = ["user", "account"]
    search_fields = ["user__username", "user__email", "account__name", "account__slug"]
    autocomplete_fields = ["user", "account"]

    def save_model(self, request, obj, form, change):
        before = Member.objects.filter(pk=obj.pk).values_list("role", flat=True).first()
        super().save_model(request, obj, form, change)
        _audit_member_change(request, obj, created=not change, before=before)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _member_removed(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for member in queryset.select_related("user", "account"):
                self.delete_model(request, member)


User = get_user_model()


class PortalUserAdmin(RefusesNul, AuditsMemberInlines, UserAdmin):
    """The stock user admin, plus the user's accounts and roles."""

    inlines = [*UserAdmin.inlines, MemberInline]

    def delete_model(self, request, obj):
        """A deleted user leaves every account they were in: their tokens and
        invitations are revoked first (the foreign keys would only be emptied)."""
        with transaction.atomic():
            memberships = list(obj.memberships.select_related("user", "account"))
            for member in memberships:
                _member_removed(request, member)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for user in queryset:
                self.delete_model(request, user)


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
