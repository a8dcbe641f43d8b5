"""The forms of the API tokens page: a new token, and the list's filters."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.db import models
from django.utils import timezone

from portal.models import Role

#: "Last used within / more than N days ago" when N is not given.
DEFAULT_DAYS = 30


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


class LastUsed(models.TextChoices):
    """The "Last used" filter of the tokens page."""

    NEVER = "never", "Never"
    RECENT = "recent", "Within the last N days"
    STALE = "stale", "More than N days ago"


class ApiTokenFilterForm(forms.Form):
    """The filters of the tokens list: role, creator (one of the names that
    created a token of this account), last use; a bad value is a message above
    the list, never a 500. Every choice is of the current account only."""

    role = forms.ChoiceField(choices=[("", "Any role"), *Role.choices], required=False)
    creator = forms.ChoiceField(choices=[("", "Anyone")], required=False, label="Created by")
    used = forms.ChoiceField(
        choices=[("", "Any time"), *LastUsed.choices], required=False, label="Last used"
    )
    days = forms.IntegerField(
        min_value=1, max_value=3650, required=False, label="N days", initial=DEFAULT_DAYS
    )
    page = forms.IntegerField(min_value=1, max_value=10**6, required=False)

    def __init__(self, *args, creators: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creator"].choices = [("", "Anyone"), *((c, c) for c in creators)]

    def filters(self) -> dict:
        data = self.cleaned_data
        return {
            "role": data["role"],
            "creator": data["creator"],
            "used": data["used"],
            "days": data["days"] or DEFAULT_DAYS,
        }
