"""The endpoint page's frame, shared by its tabs: the Overview, IP Addresses,
Key Values and History tabs (inventory/views/endpoint_detail.py) and the Usage
tab (usage/views.py), so that no tab imports another app's view module."""

from __future__ import annotations

from dataclasses import dataclass

from inventory.models import Endpoint, State


@dataclass(frozen=True)
class Actions:
    """Which actions the current member may take on this endpoint now."""

    edit: bool
    suspend: bool
    terminate: bool
    reset: bool = False

    @property
    def any(self) -> bool:
        return self.edit or self.suspend or self.terminate or self.reset


def actions_for(member, endpoint: Endpoint) -> Actions:
    terminated = endpoint.state == State.TERMINATED
    return Actions(
        edit=member.can_operate and not terminated,
        suspend=member.can_operate and endpoint.in_service,
        terminate=member.can_terminate and not terminated,
        reset=member.can_operate and endpoint.in_service,
    )


def base_context(request, endpoint: Endpoint, tab: str) -> dict:
    """What every tab of the endpoint's page shows above it: the endpoint, which
    tab is open, and the actions the current member may take."""
    return {
        "endpoint": endpoint,
        "tab": tab,
        "actions": actions_for(request.member, endpoint),
    }
