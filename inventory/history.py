"""Who changed an endpoint, and the one-row-per-change record of it.

Bulk rules (lifecycle.py, network/writes.py) write their History rows set-based
in the same SQL statement as the change; ``record`` is for single changes made
one endpoint at a time (edit screen, static addresses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from inventory.models import Endpoint, History
from portal.models import ActorKind

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

#: History's columns, in the order every set-based writer gives them (the
#: lifecycle's INSERT … SELECT, the SIM import's and the demo's COPY). A test
#: checks them against the model, so a new field fails until each writer fills it.
COLUMNS = (
    "account_id",
    "endpoint_id",
    "at",
    "actor_kind",
    "actor_id",
    "actor_label",
    "action",
    "from_state",
    "to_state",
    "changes",
    "reason",
    "batch",
)
COLUMN_LIST = ", ".join(COLUMNS)


@dataclass(frozen=True)
class Actor:
    """Who or what acts: a portal user, provider support (Django admin), the
    packet core, or the system (cron, commands).

    ``label`` keeps the history readable after the user is deleted.
    """

    kind: str
    user: AbstractBaseUser | None = None
    label: str = ""

    NETWORK: ClassVar[Actor]
    SYSTEM: ClassVar[Actor]

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> Actor:
        """A member acting in the portal."""
        return cls(kind=ActorKind.USER, user=user, label=user.get_username())

    @classmethod
    def for_support(cls, user: AbstractBaseUser) -> Actor:
        """Provider staff acting in the Django admin."""
        return cls(kind=ActorKind.SUPPORT, user=user, label=user.get_username())

    @property
    def user_id(self) -> int | None:
        return None if self.user is None else self.user.pk


Actor.NETWORK = Actor(kind=ActorKind.NETWORK, label="network")
Actor.SYSTEM = Actor(kind=ActorKind.SYSTEM, label="system")


def record(
    *,
    endpoint: Endpoint,
    actor: Actor,
    action: str,
    changes: dict | None = None,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    batch: UUID | None = None,
) -> History:
    """Write one History row for one change to ``endpoint``."""
    return History.objects.create(
        account_id=endpoint.account_id,
        endpoint=endpoint,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        changes=changes or {},
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        batch=batch,
    )
