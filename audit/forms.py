"""The audit log's filters: a bad value is reported, never a 500."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

from audit.models import AuditAction, AuditEvent


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        required=False,
        label="Actor",
        max_length=AuditEvent._meta.get_field("actor_label").max_length,
        help_text="A username or token name, exactly.",
    )
    action = forms.ChoiceField(
        choices=[("", "All events"), *AuditAction.choices], required=False, label="Event"
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    #: Keyset pagination: events older than this id.
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_before(self) -> int | None:
        before = self.cleaned_data["before"]
        if before is not None and before > 2**62:
            raise forms.ValidationError("This page link is broken; start from the newest events.")
        return before

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("“From” is after “To”.")
        return data

    def filters(self) -> dict:
        """The selector's keyword arguments: dates as UTC day bounds, "To" inclusive."""
        data = self.cleaned_data
        return {
            "actor": data["actor"],
            "action": data["action"],
            "since": _start_of(data["since"]) if data["since"] else None,
            "until": _end_of(data["until"]) if data["until"] else None,
        }


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _end_of(day: date) -> datetime | None:
    """The start of the next day; None (no bound) for the calendar's last day,
    whose next day Python cannot represent."""
    if day >= date.max:
        return None
    return _start_of(day + timedelta(days=1))
