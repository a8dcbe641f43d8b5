"""Reading an account's audit log (docs/audit-log.md).

An account's log is its own rows plus the rows of no account (sign-ins,
password and two-factor changes) whose actor is one of its current members.
Another account's rows are never in it.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from audit.models import AuditAction, AuditEvent
from portal.models import Account, Member


def account_events(
    *,
    account: Account,
    actor: str = "",
    action: AuditAction | str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The events ``account``'s admins see, newest first, filtered by the actor's
    label (exact), the action and a time window [since, until)."""
    members = Member.objects.filter(account=account).values("user_id")
    events = AuditEvent.objects.filter(
        Q(account=account) | Q(account__isnull=True, actor_id__in=members)
    )
    if actor:
        events = events.filter(actor_label=actor)
    if action:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events.order_by("-id")
