"""Writing an audit row: who acted, from where (docs/audit-log.md).

Every audited change calls ``record`` once, after the change itself succeeded
and in the same transaction where there is one, so that a rolled-back change
leaves no row. The actor is the signed-in user of ``request`` unless the caller
names another (``actor``): a user, or an ``AuditActor`` for an API token or the
system. The address comes from ``portal.client_ip``, which honours
``TRUSTED_PROXY_COUNT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.models import AuditAction, AuditActorKind, AuditEvent
from portal.client_ip import client_ip
from portal.models import Account, ActorKind, Member

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

TARGET_LENGTH = AuditEvent._meta.get_field("target").max_length
LABEL_LENGTH = AuditEvent._meta.get_field("actor_label").max_length


@dataclass(frozen=True)
class AuditActor:
    """An actor that is not a signed-in user: an API token (by its name) or the
    system (a command, a periodic task)."""

    kind: AuditActorKind
    label: str

    @classmethod
    def api_token(cls, name: str) -> AuditActor:
        return cls(kind=AuditActorKind.API_TOKEN, label=name)

    @classmethod
    def system(cls, label: str = "system") -> AuditActor:
        return cls(kind=AuditActorKind.SYSTEM, label=label)


def actor_of(actor) -> AbstractBaseUser | AuditActor:
    """The audit actor of a History ``Actor`` (``inventory.history``): its user,
    an API token by its label, or the system."""
    if actor.user is not None:
        return actor.user
    if actor.kind == ActorKind.API:
        return AuditActor.api_token(actor.label)
    return AuditActor.system(actor.label or "system")


def _kind_of(user: AbstractBaseUser, account: Account | None) -> AuditActorKind:
    """Provider support acting in an account it is not a member of (Django admin)
    is "staff"; anyone else is a user."""
    if (
        getattr(user, "is_staff", False)
        and account is not None
        and not Member.objects.filter(user=user, account=account).exists()
    ):
        return AuditActorKind.STAFF
    return AuditActorKind.USER


def _who(
    *, account: Account | None, request, actor
) -> tuple[AbstractBaseUser | None, AuditActorKind, str]:
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    if isinstance(actor, AuditActor):
        return None, actor.kind, actor.label
    if actor is not None:
        return actor, _kind_of(actor, account), actor.get_username()
    return None, AuditActorKind.SYSTEM, "system"


def record(
    *,
    action: AuditAction,
    account: Account | None,
    request: HttpRequest | None = None,
    actor: AbstractBaseUser | AuditActor | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Write one audit row for ``action`` in ``account`` (None for an event of a
    user rather than an account: sign-in, password, two-factor). ``ip`` is for
    callers that have the address but not the request (a rule function)."""
    action = AuditAction(action)
    user, kind, label = _who(account=account, request=request, actor=actor)
    return AuditEvent.objects.create(
        account=account,
        actor=user,
        actor_kind=kind,
        actor_label=label[:LABEL_LENGTH],
        action=action,
        ip=client_ip(request) if request is not None else ip,
        target=str(target)[:TARGET_LENGTH],
        details=details or {},
    )


def record_many(
    *,
    action: AuditAction,
    account: Account | None,
    rows: list[tuple[str, dict[str, Any]]],
    request: HttpRequest | None = None,
    actor: AbstractBaseUser | AuditActor | None = None,
) -> int:
    """One row per ``(target, details)`` of ``rows``, all by the same actor from
    the same address, in one INSERT: a rule that changes many things at once
    (the tokens of a removed member) records each without a query per row."""
    action = AuditAction(action)
    user, kind, label = _who(account=account, request=request, actor=actor)
    ip = client_ip(request) if request is not None else None
    created = AuditEvent.objects.bulk_create(
        AuditEvent(
            account=account,
            actor=user,
            actor_kind=kind,
            actor_label=label[:LABEL_LENGTH],
            action=action,
            ip=ip,
            target=str(target)[:TARGET_LENGTH],
            details=details or {},
        )
        for target, details in rows
    )
    return len(created)
