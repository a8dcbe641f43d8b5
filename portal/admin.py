"""Django admin for tenancy: accounts and who may do what in them."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect

import audit
from audit.models import AuditAction
from portal.changelists import RefusesNul
from portal.forms import AdminSignInForm
from portal.last_admin import accounts_left_without_admin, refusal
from portal.models import Account, Member, Role

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


def _loses_its_admin(instance: Member, cleaned: dict) -> bool:
    """Whether this edit takes an admin away from the membership's account."""
    if not instance.pk:
        return False
    before = Member.objects.filter(pk=instance.pk).values("role", "account_id").first()
    if before is None or before["role"] != Role.ADMIN:
        return False
    account = cleaned.get("account")
    moved = account is not None and account.pk != before["account_id"]
    return cleaned.get("role", Role.ADMIN) != Role.ADMIN or moved


class LastAdminFormSet(BaseInlineFormSet):
    """Membership rows edited inline: no deletion, demotion or move may leave an
    account without an admin."""

    def clean(self):
        super().clean()
        losing = [
            form.instance.pk
            for form in self.forms
            if form.instance.pk
            and hasattr(form, "cleaned_data")
            and (
                (self.can_delete and self._should_delete_form(form))
                or _loses_its_admin(form.instance, form.cleaned_data)
            )
        ]
        stranded = accounts_left_without_admin(losing=losing)
        if stranded:
            raise ValidationError(refusal(stranded))


class MemberInline(admin.TabularInline):
    model = Member
    formset = LastAdminFormSet
    extra = 0
    autocomplete_fields = ["user", "account"]


class MemberAdminForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ["user", "account", "role"]

    def clean(self):
        cleaned = super().clean()
        if _loses_its_admin(self.instance, cleaned):
            stranded = accounts_left_without_admin(losing=[self.instance.pk])
            if stranded:
                raise ValidationError(refusal(stranded))
        return cleaned


class RefusesToStrandAnAccount:
    """Deleting objects that end memberships (members, users) is refused, with
    the admin's error message and nothing deleted, when an account would be left
    without an admin. ``memberships(queryset)`` names the memberships that go."""

    def memberships(self, queryset) -> list[int]:
        raise NotImplementedError

    def refused(self, request, queryset) -> bool:
        """Whether deleting ``queryset`` is refused; says why to the staff user."""
        stranded = accounts_left_without_admin(losing=self.memberships(queryset))
        if stranded:
            self.message_user(request, refusal(stranded) + " Nothing was deleted.", messages.ERROR)
        return bool(stranded)

    def delete_view(self, request, object_id, extra_context=None):
        if request.method == "POST" and self.refused(
            request, self.get_queryset(request).filter(pk=object_id)
        ):
            return HttpResponseRedirect(request.path)
        return super().delete_view(request, object_id, extra_context)

    def delete_queryset(self, request, queryset):
        if not self.refused(request, queryset):
            super().delete_queryset(request, queryset)


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
class MemberAdmin(RefusesNul, RefusesToStrandAnAccount, admin.ModelAdmin):
    form = MemberAdminForm
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

    def memberships(self, queryset) -> list[int]:
        return list(queryset.values_list("pk", flat=True))

    def delete_queryset(self, request, queryset):
        if self.refused(request, queryset):
            return
        with transaction.atomic():
            for member in queryset.select_related("user", "account"):
                self.delete_model(request, member)


User = get_user_model()


class PortalUserAdmin(RefusesNul, RefusesToStrandAnAccount, AuditsMemberInlines, UserAdmin):
    """The stock user admin, plus the user's accounts and roles; a user who is
    an account's last admin is not deleted."""

    inlines = [*UserAdmin.inlines, MemberInline]

    def memberships(self, queryset) -> list[int]:
        return list(Member.objects.filter(user__in=queryset).values_list("pk", flat=True))

    def delete_model(self, request, obj):
        """A deleted user leaves every account they were in: their tokens and
        invitations are revoked first (the foreign keys would only be emptied)."""
        with transaction.atomic():
            memberships = list(obj.memberships.select_related("user", "account"))
            for member in memberships:
                _member_removed(request, member)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        if self.refused(request, queryset):
            return
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
