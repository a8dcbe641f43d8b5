"""What the calling token's role allows: the portal's permissions, checked
against the token instead of a member (``portal.models.Permission``)."""

from __future__ import annotations

from django.http import HttpRequest

from api.problems import ProblemError
from inventory.history import Actor
from portal.models import ActorKind, Permission, Role


def require(request: HttpRequest, needed: Permission | Role) -> None:
    """Raise a 403 problem unless the token's role allows ``needed``."""
    role = needed.least_role if isinstance(needed, Permission) else needed
    token = request.auth
    if not token.has_role(role):
        raise ProblemError(
            403,
            f"This needs the {role.label} role; this token is {Role(token.role).label}.",
        )


def actor(request: HttpRequest) -> Actor:
    """How History and jobs name the token: kind "api", label "api:<name>"."""
    return Actor(kind=ActorKind.API, user=None, label=f"api:{request.auth.name}")


def audit_actor(request: HttpRequest):
    """How the audit log names the token (``audit.events.AuditActor``)."""
    from audit.events import AuditActor

    return AuditActor.api_token(f"api:{request.auth.name}")
