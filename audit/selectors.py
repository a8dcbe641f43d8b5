"""Reading an account's audit log (docs/audit-log.md).

An account's log is its own rows plus the rows of no account (sign-ins,
password and two-factor changes) whose actor is one of its current members,
written since that member joined the account (``Member.joined_at``).
Another account's rows are never in it.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from audit.models import AuditAction, AuditEvent
from portal.models import Account, Member


def account_events(
    *,
    account: Account,
    limit: int,
    actor: str = "",
    action: AuditAction | str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
) -> QuerySet[AuditEvent]:
    """The newest ``limit`` events ``account``'s admins see (by id, below
    ``before`` for keyset pages), filtered by the actor's label (exact), the
    action and a time window [since, until).

    The account's rows and its members' own rows are read as two queries, each
    newest first and cut at ``limit`` on its own index, joined by UNION ALL
    (no row is in both: one has an account, the other none) and cut again: an
    OR of the two would make PostgreSQL sort every match to find the newest."""
    conditions = Q()
    if actor:
        conditions &= Q(actor_label=actor)
    if action:
        conditions &= Q(action=action)
    if since is not None:
        conditions &= Q(created_at__gte=since)
    if until is not None:
        conditions &= Q(created_at__lt=until)
    if before is not None:
        conditions &= Q(pk__lt=before)
    # A member's own rows count from the moment they joined this account: what
    # they did before (another employer's sign-ins, addresses) is not ours to see.
    member_then = Member.objects.filter(
        account=account, user_id=OuterRef("actor_id"), joined_at__lte=OuterRef("created_at")
    )
    own = AuditEvent.objects.filter(conditions, account=account).order_by("-id")[:limit]
    theirs = AuditEvent.objects.filter(
        conditions, Exists(member_then), account__isnull=True
    ).order_by("-id")[:limit]
    return own.union(theirs, all=True).order_by("-id")[:limit]
