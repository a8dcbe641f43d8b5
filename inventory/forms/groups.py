"""The group form of Inventory → Groups (account admins), turned into
``groups.GroupSettings``. The VSlice choices are the account's own."""

from __future__ import annotations

from django import forms

from inventory.groups import MAX_APN, MAX_NAME, GroupSettings
from inventory.models import Group, VSlice
from portal.models import Account


class GroupForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME, strip=True)
    vslice = forms.ModelChoiceField(
        queryset=VSlice.objects.none(), label="VSlice", empty_label=None
    )
    apn = forms.CharField(label="APN", max_length=MAX_APN, strip=True)
    data_allowance_mb = forms.IntegerField(
        label="Monthly data allowance per endpoint (MB)",
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="Leave empty for no allowance.",
    )
    warning_percent = forms.IntegerField(
        label="Usage warning at (% of the allowance)", min_value=1, max_value=100, initial=80
    )
    suspend_at_limit = forms.BooleanField(label="Suspend an endpoint at 100 %", required=False)

    def __init__(self, *args, account: Account, group: Group | None = None, **kwargs):
        if group is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": group.name,
                "vslice": group.vslice_id,
                "apn": group.apn,
                "data_allowance_mb": group.data_allowance_mb,
                "warning_percent": group.warning_percent,
                "suspend_at_limit": group.suspend_at_limit,
            }
        super().__init__(*args, **kwargs)
        self.fields["vslice"].queryset = VSlice.objects.filter(account=account).order_by("name")

    def settings(self) -> GroupSettings:
        data = self.cleaned_data
        return GroupSettings(
            name=data["name"],
            vslice=data["vslice"],
            apn=data["apn"],
            data_allowance_mb=data.get("data_allowance_mb"),
            warning_percent=data["warning_percent"],
            suspend_at_limit=bool(data.get("suspend_at_limit")),
        )
