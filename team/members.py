"""Changing a member's role and removing a member; the last admin stays
(docs/team.md).

Both lock the account's admin rows (``SELECT … FOR UPDATE``, in id order)
before they look at how many admins there are: two admins demoting each other
at the same moment are serialised, and the second sees one admin left and is
refused. A changed role takes effect on the member's next request (the portal
reads memberships per request, portal.tenancy), and so does what the member
created: their API tokens and pending invitations follow the new role in the
same transaction (team/grants.py).
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

import audit
from audit.models import AuditAction
from portal.models import Member, Role
from team.grants import Followed, follow_membership


class LastAdminError(Exception):
    """The change would leave the account without an admin."""


LAST_ADMIN = "An account needs at least one admin: make another member admin first."


def _locked_admins(account_id: int) -> list[int]:
    return list(
        Member.objects.select_for_update()
        .filter(account_id=account_id, role=Role.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _lock(member: Member) -> Member:
    """``member`` re-read under a lock, after the account's admins are locked."""
    admins = _locked_admins(member.account_id)
    locked = Member.objects.select_for_update().select_related("user", "account").get(pk=member.pk)
    locked.is_last_admin = admins == [locked.pk]
    return locked


def change_role(*, member: Member, role: Role, request: HttpRequest) -> tuple[Member, Followed]:
    """Give ``member`` ``role``; refused (``LastAdminError``) for the last admin.
    Returns the member and what their tokens and invitations went through."""
    role = Role(role)
    with transaction.atomic():
        locked = _lock(member)
        if locked.role == role:
            return locked, Followed()
        if locked.is_last_admin and role != Role.ADMIN:
            raise LastAdminError(LAST_ADMIN)
        before = locked.role
        locked.role = role
        locked.save(update_fields=["role"])
        audit.record(
            action=AuditAction.MEMBER_ROLE_CHANGED,
            account=locked.account,
            request=request,
            target=locked.user.get_username(),
            details={"from": before, "to": role.value},
        )
        followed = follow_membership(
            account=locked.account, user=locked.user, role=role, request=request
        )
    return locked, followed


def remove(*, member: Member, request: HttpRequest) -> Followed:
    """Take ``member`` out of the account; refused for the last admin. Their
    tokens and pending invitations are revoked (the returned ``Followed``)."""
    with transaction.atomic():
        locked = _lock(member)
        if locked.is_last_admin:
            raise LastAdminError(LAST_ADMIN)
        locked.delete()
        audit.record(
            action=AuditAction.MEMBER_REMOVED,
            account=locked.account,
            request=request,
            target=locked.user.get_username(),
            details={"role": locked.role},
        )
        return follow_membership(
            account=locked.account, user=locked.user, role=None, request=request
        )
