"""The bulk "Set key value" form: one key and its value."""

from __future__ import annotations

from django import forms

from inventory.identifiers import clean_key, clean_value


class KeyValueForm(forms.Form):
    key = forms.CharField(
        label="Key",
        help_text="Lower-case letters, digits, _ . or -; up to 64 characters.",
    )
    value = forms.CharField(
        label="Value",
        required=False,
        strip=False,
        help_text="Up to 1,024 characters; replaces the key's value where it is set.",
    )

    def clean_key(self) -> str:
        return clean_key(self.cleaned_data.get("key") or "")

    def clean_value(self) -> str:
        return clean_value(self.cleaned_data.get("value") or "", key=self.data.get("key", ""))
