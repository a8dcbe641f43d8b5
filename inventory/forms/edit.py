"""Forms of the operator screens. They parse and check input and say what is
wrong next to the field; the rules that change data live in ``editing.py`` and
``lifecycle.py``."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from inventory.editing import Edit, static_ip_key
from inventory.identifiers import clean_imei, clean_ipv4_in_subnet, clean_tags
from inventory.models import AllocationKind, Endpoint, Group, IPAllocation

TAGS_DATALIST_ID = "account-tags"


class SecondaryGroupField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Group) -> str:
        return f"{obj.name} (APN {obj.apn})"


class EndpointEditForm(forms.Form):
    """Name, reference, tags, IMEI lock, secondary groups and one static
    address per group membership (``static_ip_<group id>``; blank = automatic).

    ``memberships`` are the endpoint's current groups, primary first;
    ``allocations`` its current addresses by group id; ``groups`` the account's
    groups (the primary one is left out of the secondary choices)."""

    name = forms.CharField(max_length=100, required=False)
    reference = forms.CharField(
        max_length=100, required=False, help_text="Your own reference, e.g. a VIN or asset number."
    )
    tags = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Separate tags with commas or spaces: letters, digits, - _ : or .",
        widget=forms.TextInput(attrs={"list": TAGS_DATALIST_ID, "autocomplete": "off"}),
    )
    imei_lock_enabled = forms.BooleanField(
        label="IMEI lock",
        required=False,
        help_text="Only the device with this IMEI may open data sessions.",
    )
    imei = forms.CharField(
        label="IMEI",
        required=False,
        max_length=40,
        help_text="15-digit IMEI or 16-digit IMEISV; the lock compares the first 14 digits.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    secondary_groups = SecondaryGroupField(
        queryset=Group.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Extra groups for multi-APN devices. Leaving a group releases its address.",
    )

    def __init__(
        self,
        *args,
        endpoint: Endpoint,
        memberships: list[Group],
        allocations: dict[int, IPAllocation],
        groups,
        **kwargs,
    ):
        self.endpoint = endpoint
        self.memberships = memberships
        kwargs.setdefault(
            "initial",
            {
                "name": endpoint.name,
                "reference": endpoint.reference,
                "tags": ", ".join(endpoint.tags),
                "imei_lock_enabled": endpoint.imei_lock_enabled,
                "imei": endpoint.imei,
                "secondary_groups": [
                    g.pk for g in memberships if g.pk != endpoint.primary_group_id
                ],
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["secondary_groups"].queryset = groups.exclude(pk=endpoint.primary_group_id)
        self.static_ip_fields = []
        for group in memberships:
            allocation = allocations.get(group.pk)
            static = allocation and allocation.kind == AllocationKind.STATIC
            name = static_ip_key(group.pk)
            self.fields[name] = forms.CharField(
                label=f"Static IP in {group.name}",
                required=False,
                max_length=45,
                initial=allocation.address if static else "",
                help_text=f"Inside {group.vslice.subnet}; leave blank for an automatic address.",
                widget=forms.TextInput(
                    attrs={
                        "placeholder": (
                            f"automatic (now {allocation.address})"
                            if allocation and not static
                            else "automatic"
                        ),
                        "inputmode": "decimal",
                        "autocomplete": "off",
                    }
                ),
            )
            self.static_ip_fields.append((self[name], group, allocation))

    def clean_tags(self) -> list[str]:
        return clean_tags(self.cleaned_data["tags"])

    def clean_imei(self) -> str:
        imei = self.cleaned_data["imei"].strip()
        return clean_imei(imei) if imei else ""

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("imei_lock_enabled") and "imei" in cleaned and not cleaned["imei"]:
            self.add_error("imei", "Enter the IMEI to lock this endpoint to.")
        kept = {group.pk for group in cleaned.get("secondary_groups") or []}
        for _, group, _ in self.static_ip_fields:
            name = static_ip_key(group.pk)
            address = (cleaned.get(name) or "").strip()
            if group.pk != self.endpoint.primary_group_id and group.pk not in kept:
                cleaned[name] = ""  # leaving the group: its address goes with it
                continue
            if address:
                try:
                    cleaned[name] = clean_ipv4_in_subnet(address, group.vslice.subnet)
                except ValidationError as exc:
                    self.add_error(name, exc)
        return cleaned

    def to_edit(self) -> Edit:
        data = self.cleaned_data
        secondary = list(data["secondary_groups"])
        kept = {group.pk for group in secondary} | {self.endpoint.primary_group_id}
        return Edit(
            name=data["name"],
            reference=data["reference"],
            tags=data["tags"],
            imei_lock_enabled=data["imei_lock_enabled"],
            imei=data["imei"],
            secondary_groups=secondary,
            static_ips={
                group.pk: data[static_ip_key(group.pk)]
                for _, group, _ in self.static_ip_fields
                if group.pk in kept
            },
        )
