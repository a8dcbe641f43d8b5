"""The body of ``POST /api/v1/activations``."""

from __future__ import annotations

from ninja import Field

from api.schemas.common import Body


class ActivationIn(Body):
    iccid: str = Field(
        max_length=40, description="The SIM's ICCID (19-20 digits; spaces and dashes are dropped)."
    )
    activation_code: str = Field(
        max_length=80,
        description="The code from the SIM's packaging; spaces, dashes and case do not matter.",
    )
