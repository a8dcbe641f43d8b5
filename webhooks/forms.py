"""The webhook form of the portal, turned into a ``services.WebhookSpec``.

The URL is passed on as typed: ``webhooks.services`` normalises and checks it
for the form and the API alike (``ssrf.normalise``), and its refusal comes back
as this form's error."""

from __future__ import annotations

from django import forms

from webhooks.models import SUBSCRIBABLE
from webhooks.services import WebhookSpec


class WebhookForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        strip=False,
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

    def spec(self) -> WebhookSpec:
        data = self.cleaned_data
        return WebhookSpec(
            url=data["url"],
            description=data["description"],
            event_types=data["event_types"],
            enabled=data["enabled"],
        )
