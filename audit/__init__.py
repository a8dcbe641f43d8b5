"""The account audit log: who did what, when, from which address (docs/audit-log.md).

``record`` is the one way a row is written; every caller (views, the job
service, sign-in signals) goes through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

    from audit.models import AuditAction, AuditEvent
    from portal.models import Account


def record(
    *,
    action: AuditAction,
    account: Account | None,
    request: HttpRequest | None = None,
    actor: AbstractBaseUser | str | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Write one audit row; see ``audit.events.record`` (imported here lazily, so
    that ``from audit import record`` works before the app registry is ready)."""
    from audit.events import record as _record

    return _record(
        action=action,
        account=account,
        request=request,
        actor=actor,
        target=target,
        details=details,
        ip=ip,
    )


def record_many(
    *,
    action: AuditAction,
    account: Account | None,
    rows: list[tuple[str, dict[str, Any]]],
    request: HttpRequest | None = None,
    actor: AbstractBaseUser | str | None = None,
) -> int:
    """One row per ``(target, details)``; see ``audit.events.record_many``."""
    from audit.events import record_many as _record_many

    return _record_many(action=action, account=account, rows=rows, request=request, actor=actor)
