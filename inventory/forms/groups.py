"""The group form of Inventory → Groups (account admins), turned into
``groups.GroupSettings``. The VSlice choices are the account's own."""

from __future__ import annotations

from django import forms

from inventory.groups import (
    MAX_APN,
    MAX_NAME,
    GroupRefused,
    GroupSettings,
    policy_countries,
    policy_plmns,
)
from inventory.models import Group, OperatorPolicy, VSlice
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
    operator_policy = forms.ChoiceField(
        label="Operator policy",
        choices=OperatorPolicy.choices,
        initial=OperatorPolicy.ANY,
        required=False,
        help_text="On which networks a data session of this group may start.",
    )
    policy_countries = forms.CharField(
        label="Countries",
        required=False,
        max_length=2000,
        help_text="ISO 3166 two-letter codes, separated by commas: DE, FR, GB.",
    )
    policy_plmns = forms.CharField(
        label="Networks (PLMN)",
        required=False,
        max_length=3000,
        help_text="MCC+MNC, 5 or 6 digits, separated by commas: 23415, 310260.",
    )

    def clean_policy_countries(self) -> tuple[str, ...]:
        try:
            return policy_countries(self.cleaned_data.get("policy_countries", ""))
        except GroupRefused as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_policy_plmns(self) -> tuple[str, ...]:
        try:
            return policy_plmns(self.cleaned_data.get("policy_plmns", ""))
        except GroupRefused as exc:
            raise forms.ValidationError(str(exc)) from exc

    def __init__(self, *args, account: Account, group: Group | None = None, **kwargs):
        if group is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": group.name,
                "vslice": group.vslice_id,
                "apn": group.apn,
                "data_allowance_mb": group.data_allowance_mb,
                "warning_percent": group.warning_percent,
                "suspend_at_limit": group.suspend_at_limit,
                "operator_policy": group.operator_policy,
                "policy_countries": ", ".join(group.policy_countries),
                "policy_plmns": ", ".join(group.policy_plmns),
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
            operator_policy=data.get("operator_policy") or OperatorPolicy.ANY.value,
            policy_countries=data.get("policy_countries") or (),
            policy_plmns=data.get("policy_plmns") or (),
        )
