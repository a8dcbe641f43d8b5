"""The form of the API tokens page."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.utils import timezone

from portal.models import Role


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “fleet-sync production”.")
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text="Viewer reads; operator also edits, assigns and suspends; admin also terminates.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        help_text="Optional; the token stops working at the start of this day (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, creator_role: Role, **kwargs):
        super().__init__(*args, **kwargs)
        # Never more than the creating admin's own role.
        self.fields["role"].choices = [
            (value, label) for value, label in Role.choices if Role(value).rank <= creator_role.rank
        ]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        if day <= timezone.now().date():
            raise forms.ValidationError("Choose a day after today.")
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)
