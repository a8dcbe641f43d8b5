"""PostgreSQL column types Django lacks a field for."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError
from django.db import models


class CidrField(models.Field):
    """An IPv4 network stored as PostgreSQL ``cidr`` (host bits must be zero)."""

    description = "IPv4 network (CIDR)"

    def db_type(self, connection) -> str:
        return "cidr"

    def from_db_value(self, value, expression, connection):
        return value if value is None else str(value)

    def to_python(self, value):
        if value is None or value == "":
            return None
        try:
            network = ipaddress.IPv4Network(str(value).strip(), strict=True)
        except ValueError as exc:
            raise ValidationError(
                "Enter an IPv4 network such as 100.64.0.0/16 (host bits must be zero)."
            ) from exc
        return str(network)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value in (None, "") else str(value)

    def formfield(self, **kwargs):
        from django import forms

        return super().formfield(**{"form_class": forms.CharField, **kwargs})
