"""The query parameters that the filtered lists of events share
(``/api/v1/events``, ``/api/v1/network-events``), and how they become the
filter form's data.

Ninja parses and bounds the parameters; the list then goes through the same
form as the portal's page (``inventory.forms``), so both refuse the same values
with the same messages. Only the parameters given become data."""

from __future__ import annotations

from typing import Annotated

from django.http import QueryDict
from ninja import Query

from api.schemas.endpoints import ICCID_PATTERN

IccidQuery = Annotated[str | None, Query(pattern=ICCID_PATTERN, description="An ICCID.")]
FromQuery = Annotated[
    str | None, Query(alias="from", max_length=40, description="ISO 8601 date and time.")
]
ToQuery = Annotated[
    str | None, Query(alias="to", max_length=40, description="ISO 8601 date and time.")
]
CursorQuery = Annotated[str | None, Query(max_length=40)]


def filter_data(**values: str | None) -> QueryDict:
    """A form's data holding each of ``values`` that is set."""
    data = QueryDict(mutable=True)
    for key, value in values.items():
        if value:
            data[key] = value
    return data
