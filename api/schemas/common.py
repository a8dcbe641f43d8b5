"""What every request body of the API shares."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict


class Body(Schema):
    """A request body: unknown fields are refused (a misspelt field must not be
    silently ignored) and types are strict (``0`` is not ``false``)."""

    model_config = ConfigDict(extra="forbid", strict=True)
