"""What each role may do, as ``member_required`` enforces it, and that a
requirement it does not know fails when the view is defined, not when it is used."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from portal.models import Permission, Role
from tests.factories import MemberFactory


def _view(request):
    return HttpResponse("done")


@pytest.mark.parametrize("required", ["operat", "admin ", "terminated", 3, Role])
def test_an_unknown_requirement_raises_when_the_view_is_decorated(required):
    from portal.tenancy import member_required

    with pytest.raises(ValueError, match="Permission or a Role"):
        member_required(required)


RULES = [
    # (required, role, allowed)
    (None, Role.VIEWER, True),
    (Permission.OPERATE, Role.VIEWER, False),
    (Permission.OPERATE, Role.OPERATOR, True),
    (Permission.OPERATE, Role.ADMIN, True),
    (Permission.TERMINATE, Role.VIEWER, False),
    (Permission.TERMINATE, Role.OPERATOR, False),
    (Permission.TERMINATE, Role.ADMIN, True),
    (Role.OPERATOR, Role.VIEWER, False),
    (Role.OPERATOR, Role.OPERATOR, True),
    (Role.ADMIN, Role.OPERATOR, False),
    (Role.ADMIN, Role.ADMIN, True),
]


@pytest.mark.parametrize(("required", "role", "allowed"), RULES)
def test_each_role_may_do_what_its_rules_say(db, account, required, role, allowed):
    from portal.tenancy import member_required

    member = MemberFactory(account=account, role=role)
    request = RequestFactory().post("/probe/")
    request.user, request.member = member.user, member
    view = member_required(required)(_view)
    if allowed:
        assert view(request).content == b"done"
    else:
        with pytest.raises(PermissionDenied):
            view(request)
    assert member.can_operate is (role in (Role.OPERATOR, Role.ADMIN))
    assert member.can_terminate is (role == Role.ADMIN)
