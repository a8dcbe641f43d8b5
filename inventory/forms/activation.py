"""The activation page's form: one ICCID and code, or a small CSV of pairs."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from inventory import activation_codes
from inventory.activation import MAX_BATCH, clean_iccid_typed

MAX_FILE_BYTES = 64 * 1024


class ActivationForm(forms.Form):
    iccid = forms.CharField(
        label="ICCID",
        required=False,
        max_length=40,
        help_text="19 or 20 digits, as printed on the SIM card or its packaging.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    code = forms.CharField(
        label="Activation code",
        required=False,
        max_length=80,
        help_text="From the same packaging; spaces, dashes and case do not matter.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    file = forms.FileField(
        label="Or a CSV file of several SIMs",
        required=False,
        help_text=f"Columns iccid and activation_code; at most {MAX_BATCH} SIMs.",
    )

    def clean_iccid(self) -> str:
        value = self.cleaned_data.get("iccid") or ""
        return clean_iccid_typed(value) if value.strip() else ""

    def clean_code(self) -> str:
        value = self.cleaned_data.get("code") or ""
        return activation_codes.clean_code(value) if value.strip() else ""

    def clean_file(self):
        file = self.cleaned_data.get("file")
        if file and file.size > MAX_FILE_BYTES:
            raise ValidationError(
                f"The file is {file.size:,} bytes; at most {MAX_FILE_BYTES:,} ({MAX_BATCH} SIMs).",
                code="file_large",
            )
        return file

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        pair = data.get("iccid") or data.get("code")
        if data.get("file") and pair:
            raise ValidationError("Enter one SIM or choose a file, not both.", code="both")
        if not data.get("file"):
            if not data.get("iccid"):
                self.add_error("iccid", "Enter the ICCID.")
            if not data.get("code"):
                self.add_error("code", "Enter the activation code.")
        return data
