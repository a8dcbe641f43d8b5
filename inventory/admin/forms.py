"""What support may type into the admin's change forms: the identifier rules
of docs/product.md (``inventory.identifiers``, the model fields' validators, so
every ModelForm applies them), tags as in the portal, and a group's VSlice
from its own account only."""

from __future__ import annotations

from django import forms

from inventory.identifiers import clean_tags
from inventory.models import IMSI, Endpoint, Group, VSlice


class EndpointForm(forms.ModelForm):
    """Tags as the portal takes them; an IMEI lock needs its IMEI."""

    tags = forms.CharField(
        required=False, help_text="Comma-separated slugs, at most 20.", strip=True
    )

    class Meta:
        model = Endpoint
        fields = ["account", "iccid", "name", "reference", "tags", "imei_lock_enabled", "imei"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_tags(self):
        return clean_tags(self.cleaned_data.get("tags") or "")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("imei_lock_enabled") and not cleaned.get("imei"):
            self.add_error("imei", "An IMEI lock needs the IMEI to lock to.")
        return cleaned


class IMSIInlineForm(forms.ModelForm):
    """An IMSI on its endpoint's page: the endpoint is the page's."""

    class Meta:
        model = IMSI
        fields = ["imsi"]


class IMSIForm(IMSIInlineForm):
    """An IMSI on its own page: its endpoint is chosen."""

    class Meta(IMSIInlineForm.Meta):
        fields = ["endpoint", "imsi"]


class VSliceForm(forms.ModelForm):
    class Meta:
        model = VSlice
        fields = ["account", "name", "subnet"]


class GroupForm(forms.ModelForm):
    class Meta:
        model = Group
        fields = ["account", "name", "vslice", "apn"]

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account") or getattr(self.instance, "account", None)
        vslice = cleaned.get("vslice") or getattr(self.instance, "vslice", None)
        if account and vslice and vslice.account_id != account.pk:
            self.add_error("vslice", f"{vslice} belongs to another account.")
        return cleaned
