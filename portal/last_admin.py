"""The last-admin rule for staff edits in Django admin: no account is left
without an admin by a role change, a membership moved or deleted, or a user
deleted (docs/team.md). The portal's own screens keep the same rule in
``team.members``; this is the set-based check the admin's forms, formsets and
delete actions share.

The account's admin rows are locked (``SELECT … FOR UPDATE``, in id order)
before they are counted, inside the admin view's transaction, so two staff
edits at the same moment are serialised as the team page's are.
"""

from __future__ import annotations

from collections.abc import Iterable

from portal.models import Account, Member, Role

LAST_ADMIN = (
    "{accounts} would be left without an admin: make another member admin first "
    "(an account needs at least one)."
)


def accounts_left_without_admin(*, losing: Iterable[int]) -> list[Account]:
    """The accounts whose every admin is among the memberships ``losing`` (by
    id: deleted, demoted or moved to another account)."""
    losing = set(losing)
    if not losing:
        return []
    accounts = set(
        Member.objects.filter(pk__in=losing, role=Role.ADMIN).values_list("account_id", flat=True)
    )
    if not accounts:
        return []
    admins = list(
        Member.objects.select_for_update()
        .filter(account_id__in=accounts, role=Role.ADMIN)
        .order_by("pk")
        .values_list("account_id", "pk")
    )
    kept = {account for account, pk in admins if pk not in losing}
    return list(Account.objects.filter(pk__in=accounts - kept).order_by("name"))


def refusal(accounts: list[Account]) -> str:
    return LAST_ADMIN.format(accounts=", ".join(f"“{a.name}”" for a in accounts))
