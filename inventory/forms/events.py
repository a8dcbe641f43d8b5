"""The Network events page's filters: type, result, a time range and one ICCID,
plus the keyset cursor; a bad value is a message on the page, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms

from inventory.models import EventStatus, EventType
from portal.time_cursor import parse_time_cursor


class UtcDateTimeField(forms.DateTimeField):
    """A date and time, as UTC. ISO 8601 allows offsets up to ±23:59 and
    PostgreSQL takes ±15:59 at most, so the offset is applied here; a time that
    leaves years 1–9999 once in UTC is refused with a message."""

    def to_python(self, value) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError(
                "Enter a date and time between the years 1 and 9999 (in UTC).",
                code="out_of_range",
            ) from exc


class EventFilterForm(forms.Form):
    """The filters; every one optional, and a bad value is reported, not a 500."""

    type = forms.ChoiceField(
        choices=[("", "All types"), *EventType.choices], required=False, label="Type"
    )
    status = forms.ChoiceField(
        choices=[("", "All results"), *EventStatus.choices], required=False, label="Result"
    )
    start = UtcDateTimeField(
        required=False,
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    end = UtcDateTimeField(
        required=False,
        label="To",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    endpoint = forms.CharField(required=False, max_length=20, label="Endpoint ICCID")
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data, *args, **kwargs):
        # The query string uses the short names "from" and "to".
        data = data.copy()
        for short, name in (("from", "start"), ("to", "end")):
            if short in data and name not in data:
                data[name] = data[short]
        super().__init__(data, *args, **kwargs)

    def clean_endpoint(self) -> str:
        return self.cleaned_data["endpoint"].strip()

    def clean_cursor(self) -> tuple[datetime, int] | None:
        """ "<microseconds since the epoch>-<id>" of the last row shown."""
        value = self.cleaned_data["cursor"].strip()
        if not value:
            return None
        cursor = parse_time_cursor(value)
        if cursor is None:
            raise forms.ValidationError("This page link is broken; start from the newest events.")
        return cursor

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "“To” is before “From”.")
        return cleaned
