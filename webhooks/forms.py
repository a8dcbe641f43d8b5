"""The webhook form of the portal, turned into a ``services.WebhookSpec``."""

from __future__ import annotations

from django import forms

from webhooks.models import SUBSCRIBABLE
from webhooks.services import WebhookSpec


class WebhookForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="https:// only; the host must be public.",
        widget=forms.URLInput(attrs={"class": "form-control", "placeholder": "https://"}),
    )
    description = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    event_types = forms.MultipleChoiceField(
        label="Event types",
        choices=[(t.value, f"{t.label} ({t.value})") for t in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def clean_url(self) -> str:
        value = self.cleaned_data["url"].strip()
        if "\x00" in value or any(ch.isspace() for ch in value):
            raise forms.ValidationError("The URL may not contain spaces or control characters.")
        return value

    def spec(self) -> WebhookSpec:
        data = self.cleaned_data
        return WebhookSpec(
            url=data["url"],
            description=data["description"],
            event_types=data["event_types"],
            enabled=data["enabled"],
        )
