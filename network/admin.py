"""Django admin of the RADIUS side (docs/radius.md): the provider's NAS list for
staff, and read-only views of the sessions and the Disconnect-Requests.

A client's secret is write-only: typed (or generated) when the client is added,
shown once in the message after saving if it was generated, replaced by typing
a new one; the form never shows the stored one.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from network.models import RadiusClient, RadiusDisconnect, RadiusSession
from network.radius import secrets
from portal.changelists import RefusesNul
from portal.read_only_admin import ReadOnlyAdmin


class RadiusClientForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            f"{secrets.MIN_LENGTH}–{secrets.MAX_LENGTH} printable characters. Leave empty to "
            "generate one when adding (shown once), or to keep the current one when changing. "
            "The stored secret is never shown."
        ),
    )

    class Meta:
        model = RadiusClient
        fields = ["name", "address", "coa_port", "require_message_authenticator", "enabled"]

    def clean_secret(self) -> str:
        secret = self.cleaned_data["secret"]
        if secret and (problem := secrets.check(secret)):
            raise forms.ValidationError(problem)
        return secret


@admin.register(RadiusClient)
class RadiusClientAdmin(RefusesNul, admin.ModelAdmin):
    form = RadiusClientForm
    list_display = [
        "name",
        "address",
        "coa_port",
        "require_message_authenticator",
        "enabled",
        "created_at",
    ]
    list_filter = ["enabled", "require_message_authenticator"]
    search_fields = ["name"]
    fields = [
        "name",
        "address",
        "secret",
        "coa_port",
        "require_message_authenticator",
        "enabled",
        "created_at",
    ]
    readonly_fields = ["created_at"]

    def save_model(self, request, obj, form, change):
        typed = form.cleaned_data.get("secret")
        generated = None
        if typed:
            obj.set_secret(typed)
        elif not change:
            generated = secrets.generate()
            obj.set_secret(generated)
        super().save_model(request, obj, form, change)
        if generated:
            self.message_user(
                request,
                f"Secret for “{obj.name}”: {generated} — copy it into the NAS now, "
                "it is not shown again.",
                messages.WARNING,
            )


@admin.register(RadiusSession)
class RadiusSessionAdmin(RefusesNul, ReadOnlyAdmin):
    list_display = [
        "session_id",
        "client",
        "imsi",
        "framed_ip",
        "input_octets",
        "output_octets",
        "started_at",
        "ended_at",
    ]
    list_select_related = ["client"]
    search_fields = ["=imsi", "=session_id"]
    show_full_result_count = False


@admin.register(RadiusDisconnect)
class RadiusDisconnectAdmin(RefusesNul, ReadOnlyAdmin):
    list_display = ["id", "client", "endpoint_id", "reason", "state", "attempts", "done_at"]
    list_select_related = ["client"]
    list_filter = ["state"]
    show_full_result_count = False
