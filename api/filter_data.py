"""The query parameters of a filtered list route as its filter form's data.

Ninja parses and bounds the parameters; the list then goes through the same
form as the portal's page (``inventory.forms``), so both refuse the same values
with the same messages. Only the parameters given become data."""

from __future__ import annotations

from django.http import QueryDict


def filter_data(**values: str | None) -> QueryDict:
    """A form's data holding each of ``values`` that is set."""
    data = QueryDict(mutable=True)
    for key, value in values.items():
        if value:
            data[key] = value
    return data
