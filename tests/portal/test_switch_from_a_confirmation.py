"""Switching account from a page that answered a POST (a bulk action's
confirmation) lands on a page a GET can open, never on a 405: the switch form
names only a page that was itself opened with GET."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from inventory.models import State
from portal.models import Role
from tests.factories import EndpointFactory, GroupFactory, MemberFactory

pytestmark = pytest.mark.django_db

_NEXT = re.compile(r'action="/account/switch/".*?name="next" value="([^"]*)"', re.S)


def switch_next(page) -> str:
    found = _NEXT.search(page.content.decode())
    assert found, "no account switch on the page"
    return unescape(found.group(1))


@pytest.mark.parametrize(
    "url, extra",
    [
        ("inventory:endpoint_bulk_suspend", {}),
        ("inventory:endpoint_bulk_terminate", {}),
        ("inventory:endpoint_bulk_assign", {"group": "GROUP"}),
        ("inventory:endpoint_bulk_set_key_value", {"key": "depot", "value": "x"}),
    ],
)
def test_switching_on_a_confirmation_page_opens_a_page(client, account, other_account, url, extra):
    user = MemberFactory(account=account, role=Role.ADMIN).user
    MemberFactory(account=other_account, role=Role.ADMIN, user=user)
    group = GroupFactory(account=account)
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    client.force_login(user)
    client.post(reverse("switch_account"), {"account": account.pk})
    data = {
        "ids": [endpoint.iccid],
        **{k: group.pk if v == "GROUP" else v for k, v in extra.items()},
    }

    confirmation = client.post(reverse(url), data)
    assert confirmation.status_code == 200
    switched = client.post(
        reverse("switch_account"),
        {"account": other_account.pk, "next": switch_next(confirmation)},
        follow=True,
    )

    assert switched.status_code == 200
    assert switched.redirect_chain[-1][0] == reverse("inventory:endpoint_list")


def test_switching_on_a_page_opened_with_get_stays_on_it(client, account, other_account):
    user = MemberFactory(account=account, role=Role.VIEWER).user
    MemberFactory(account=other_account, role=Role.VIEWER, user=user)
    client.force_login(user)
    page = client.get(reverse("inventory:event_list"), {"type": "attach"})

    assert switch_next(page) == reverse("inventory:event_list")
