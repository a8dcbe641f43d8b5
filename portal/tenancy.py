"""The current account of a request.

A user picks the current account in the header; the choice is kept in the
session. Views scope every query by ``request.account`` and check the role in
``request.member``; nothing else decides tenancy.
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, connections
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject

from portal import raw_rows
from portal.models import Account, Member, Permission, Role
from portal.two_factor.devices import two_factor_on

SESSION_KEY = "current_account_id"


# The signed-in user's memberships with their accounts, by account name, and
# whether the user has two-factor on (the two-factor middleware asks it on
# every request). Read on every page of the portal, so written out
# (portal.raw_rows): the ORM version (select_related, an Exists annotation)
# cost about 1 ms of CPU per page to build and compile. Always the primary:
# tenancy is never read from a replica (portal.replicas).
_MEMBERSHIPS_SQL = f"""
SELECT {raw_rows.columns(Member, "m")}, {raw_rows.columns(Account, "a")},
       {two_factor_on("m.user_id")}
  FROM {Member._meta.db_table} m
  JOIN {Account._meta.db_table} a ON a.id = m.account_id
 WHERE m.user_id = %s
 ORDER BY a.name, m.id
"""


def _memberships(request) -> list[Member]:
    if not request.user.is_authenticated:
        return []
    if not hasattr(request, "_memberships"):
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(_MEMBERSHIPS_SQL, [request.user.pk])
            rows = cursor.fetchall()
        split = raw_rows.width(Member)
        members = []
        for row in rows:
            member = raw_rows.instance(Member, row[:split])
            member.account = raw_rows.instance(Account, row[split:-1])
            member.user = request.user
            member.user_two_factor = row[-1]
            members.append(member)
        request._memberships = members
    return request._memberships


def memberships(request) -> list[Member]:
    """The signed-in user's memberships (with their accounts), loaded once per request."""
    return _memberships(request)


def _current_member(request) -> Member | None:
    members = _memberships(request)
    if not members:
        return None
    wanted = request.session.get(SESSION_KEY)
    for member in members:
        if member.account_id == wanted:
            return member
    return members[0]


class CurrentAccountMiddleware:
    """Sets ``request.member`` and ``request.account`` lazily (no query for static
    files, the API or anonymous users)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = SimpleLazyObject(lambda: _current_member(request))
        request.account = SimpleLazyObject(
            lambda: request.member.account if request.member else None
        )
        return self.get_response(request)


def switch_account(request, account_id: int) -> bool:
    """Make ``account_id`` current if the user is a member of it."""
    for member in _memberships(request):
        if member.account_id == account_id:
            request.session[SESSION_KEY] = account_id
            return True
    return False


def account_context(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    member = request.member if hasattr(request, "member") else None
    return {
        "memberships": _memberships(request),
        "current_member": member if member else None,
    }


#: Why a member below the required role is refused, as the 403 page says it:
#: by the permission asked for, else by the least role it admits.
_REFUSALS = {
    Permission.TERMINATE: "Only account admins may terminate endpoints.",
    Role.OPERATOR: "Your role in this account is read-only.",
    Role.ADMIN: "Only account admins may open this page.",
}


def _least_role(required: Permission | Role | None) -> Role:
    """The lowest role ``required`` admits. Raises when ``required`` is neither a
    ``Permission`` nor a ``Role`` value, so a misspelt requirement fails when the
    view module is imported instead of letting every member through."""
    if required is None:
        return Role.VIEWER
    if isinstance(required, Role):
        return required
    try:
        return Permission(required).least_role
    except ValueError:
        raise ValueError(
            f"member_required({required!r}): expected a Permission or a Role"
        ) from None


def member_required(required: Permission | Role | None = None):
    """Require login and a membership; with ``required`` (a ``Permission`` or a
    ``Role``), refuse a lower role with 403. A user without any account sees a
    clear page."""
    least_role = _least_role(required)
    refusal = _REFUSALS.get(required) or _REFUSALS.get(least_role, "")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            from django.contrib.auth.views import redirect_to_login

            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            member = request.member
            if not member:
                return render(request, "portal/no_account.html", status=403)
            if not member.has_role(least_role):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
