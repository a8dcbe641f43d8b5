"""Inventory → Groups: counts by state and addresses used, each linking to the
filtered list; only the account's groups; a constant number of queries."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import IPAllocation, State
from tests.factories import EndpointFactory, GroupFactory, VSliceFactory

URL = reverse("inventory:group_list")


def row(response, group) -> str:
    html = unescape(response.content.decode())
    return re.search(rf'<tr data-group-id="{group.pk}">.*?</tr>', html, re.S).group(0)


def add(account, group, state, n):
    extra = {"terminated_at": timezone.now()} if state == State.TERMINATED else {}
    grouped = state not in (State.PENDING,)
    return [
        EndpointFactory(
            account=account, primary_group=group if grouped else None, state=state, imsis=0, **extra
        )
        for _ in range(n)
    ]


def test_anonymous_goes_to_login(client, account):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_no_groups_message(client, viewer):
    client.force_login(viewer)
    assert "This account has no endpoint groups yet" in client.get(URL).content.decode()


def test_counts_by_state_link_to_the_filtered_list(client, viewer, account, group):
    add(account, group, State.ACTIVE, 3)
    add(account, group, State.IDLE, 2)
    add(account, group, State.SUSPENDED, 1)
    add(account, group, State.PENDING, 4)  # no group: not counted here
    client.force_login(viewer)
    html = row(client.get(URL), group)
    list_url = reverse("inventory:endpoint_list")
    assert f'<a href="{list_url}?group={group.pk}" data-testid="total">6</a>' in html
    assert f'href="{list_url}?group={group.pk}&state=active" data-state="active"' in html
    assert re.search(r'data-state="active"[^>]*>3</a>', html)
    assert re.search(r'data-state="idle"[^>]*>2</a>', html)
    assert re.search(r'data-state="suspended"[^>]*>1</a>', html)
    assert 'data-state="pending"' not in html
    assert group.vslice.subnet in html and group.apn in html and group.vslice.name in html


def test_count_links_match_the_list(client, viewer, account, group):
    add(account, group, State.IDLE, 2)
    client.force_login(viewer)
    html = row(client.get(URL), group)
    target = re.search(r'href="([^"]+)" data-state="idle"', html).group(1)
    listed = client.get(target).content.decode()
    assert len(re.findall(r'<td class="mono"><a href="/inventory/endpoints/', listed)) == 2


def test_addresses_used_of_the_subnet(client, viewer, account, group):
    endpoints = add(account, group, State.ACTIVE, 3)
    for n, endpoint in enumerate(endpoints):
        IPAllocation.objects.create(
            account=account,
            endpoint=endpoint,
            group=group,
            vslice=group.vslice,
            address=f"100.64.0.{n + 1}",
            kind="auto",
        )
    client.force_login(viewer)
    html = row(client.get(URL), group)
    assert re.search(r'data-testid="used">3</span> of 65,534', html)


def test_other_accounts_groups_are_not_shown(client, viewer, account, group, other_account):
    foreign = GroupFactory(account=other_account, name="northwind-secret")
    add(other_account, foreign, State.ACTIVE, 2)
    client.force_login(viewer)
    response = client.get(URL, {"group": foreign.pk})
    assert "northwind-secret" not in response.content.decode()
    assert f'data-group-id="{foreign.pk}"' not in response.content.decode()


def test_query_count_does_not_grow_with_groups(
    client, viewer, account, group, django_assert_max_num_queries
):
    add(account, group, State.ACTIVE, 2)
    client.force_login(viewer)
    client.get(URL)
    for _ in range(6):
        extra = GroupFactory(account=account, vslice=VSliceFactory(account=account))
        add(account, extra, State.IDLE, 1)
    # session, user, membership, groups, counts by state, addresses by VSlice
    with django_assert_max_num_queries(6):
        response = client.get(URL)
    assert response.content.decode().count("data-group-id=") == 7


@pytest.mark.parametrize("role", ["viewer", "operator", "admin_member"])
def test_every_role_sees_the_page(client, request, role, group):
    client.force_login(request.getfixturevalue(role))
    assert group.name in client.get(URL).content.decode()


@pytest.mark.parametrize(("subnet", "capacity"), [("100.64.9.4/30", "2"), ("100.64.9.4/31", "0")])
def test_capacity_counts_usable_hosts_only(client, viewer, account, subnet, capacity):
    group = GroupFactory(account=account, vslice=VSliceFactory(subnet=subnet))
    client.force_login(viewer)
    html = row(client.get(URL), group)
    assert re.search(rf'data-testid="used">0</span> of {capacity}<', html)
