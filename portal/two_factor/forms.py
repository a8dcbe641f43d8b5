"""Forms of two-factor sign-in: one code field, bounded like every other input."""

from __future__ import annotations

from django import forms


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Authentication code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "off",
                "spellcheck": "false",
                "class": "form-control",
            }
        ),
    )


class RequireForm(forms.Form):
    require_mfa = forms.BooleanField(required=False)
