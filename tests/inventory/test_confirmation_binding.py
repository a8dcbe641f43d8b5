"""A confirmation acts only on what it was shown for: the account, the action,
the selection, the group and the number that would change, bound by a signed
token in its form (docs/production.md "What protects the portal")."""

from __future__ import annotations

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from inventory import lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, History, State
from portal.models import Role
from tests.confirming import confirm, hidden_fields, text
from tests.factories import EndpointFactory, GroupFactory, MemberFactory

ASSIGN = reverse("inventory:endpoint_bulk_assign")
SUSPEND = reverse("inventory:endpoint_bulk_suspend")
TERMINATE = reverse("inventory:endpoint_bulk_terminate")
LIST = reverse("inventory:endpoint_list")
SWITCH = reverse("switch_account")


def active(account, group, n: int) -> list[Endpoint]:
    return [
        EndpointFactory(account=account, primary_group=group, state=State.ACTIVE, imsis=0)
        for _ in range(n)
    ]


def states(account) -> dict[str, int]:
    rows = Endpoint.objects.filter(account=account).values_list("state", flat=True)
    return {state: list(rows).count(state) for state in set(rows)}


def switch(client, account) -> None:
    """Change the current account the way the header's account menu does."""
    response = client.post(SWITCH, {"account": account.pk, "next": LIST})
    assert response.status_code == 302
    assert client.session["current_account_id"] == account.pk


@pytest.fixture
def multi(account, other_account):
    """An operator in both Vantiq Connect and Northwind Logistics."""
    member = MemberFactory(account=account, role=Role.ADMIN, user__username="multi")
    MemberFactory(account=other_account, role=Role.ADMIN, user=member.user)
    return member.user


@pytest.fixture
def multi_client(client, multi):
    client.force_login(multi)
    return client


@pytest.fixture
def northwind_group(other_account):
    return GroupFactory(account=other_account, vslice__subnet="100.65.0.0/16")


# --- another account -----------------------------------------------------------------


@pytest.mark.parametrize("url", [SUSPEND, TERMINATE])
def test_a_confirmation_shown_in_one_account_is_refused_in_another(
    multi_client, account, other_account, group, northwind_group, url
):
    active(other_account, northwind_group, 3)
    active(account, group, 5)
    switch(multi_client, other_account)
    shown = multi_client.post(url, {"select_all": "1", "filter": "state=active"})
    assert "3 endpoints will be" in text(shown)

    switch(multi_client, account)  # in another tab
    response = multi_client.post(url, hidden_fields(shown))

    assert states(account) == {State.ACTIVE: 5}
    assert states(other_account) == {State.ACTIVE: 3}
    assert not History.objects.exists()
    assert response.status_code == 302
    assert response["Location"] == LIST
    page = text(multi_client.get(response["Location"]))
    assert (
        "This confirmation was shown in Northwind Logistics, but your current account is "
        "now Vantiq Connect. Nothing was changed." in page
    )


def test_a_single_endpoint_confirmation_is_refused_in_another_account(
    multi_client, account, other_account, northwind_group
):
    [endpoint] = active(other_account, northwind_group, 1)
    switch(multi_client, other_account)
    url = reverse("inventory:endpoint_suspend", args=[endpoint.iccid])
    shown = multi_client.get(url)

    switch(multi_client, account)
    response = multi_client.post(url, hidden_fields(shown))

    assert response.status_code == 302
    assert response["Location"] == LIST
    assert "shown in Northwind Logistics, but your current account is now Vantiq Connect" in (
        text(multi_client.get(LIST))
    )
    assert Endpoint.objects.get(pk=endpoint.pk).state == State.ACTIVE


# --- the token itself ----------------------------------------------------------------


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator)
    return client


def _without_token(fields: dict) -> dict:
    return {name: values for name, values in fields.items() if name != "confirmation"}


def _tampered(fields: dict) -> dict:
    token = fields["confirmation"][0]
    return {**fields, "confirmation": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")}


def _forged(fields: dict) -> dict:
    """A well-formed token made without the server's salt."""
    payload = signing.loads(fields["confirmation"][0], salt="inventory.confirm_action")
    return {**fields, "confirmation": signing.dumps({**payload, "count": 0}, salt="forged")}


@pytest.mark.parametrize("change", [_without_token, _tampered, _forged])
def test_a_missing_or_altered_token_changes_nothing(op_client, account, group, change):
    rows = active(account, group, 2)
    shown = op_client.post(SUSPEND, {"ids": [e.iccid for e in rows]})

    response = op_client.post(SUSPEND, change(hidden_fields(shown)))

    assert response.status_code == 200
    page = text(response)
    assert "This confirmation could not be checked" in page
    assert "Nothing was changed" in page
    assert "2 endpoints will be suspended" in page
    assert states(account) == {State.ACTIVE: 2}
    assert not History.objects.exists()
    # The page shown again carries a good token: confirming it acts.
    again = op_client.post(SUSPEND, hidden_fields(response))
    assert again.status_code == 302
    assert states(account) == {State.SUSPENDED: 2}


def test_a_token_of_another_selection_is_refused(op_client, account, group):
    shown_for, added = active(account, group, 2)
    shown = op_client.post(SUSPEND, {"ids": [shown_for.iccid]})

    posted = {**hidden_fields(shown), "ids": [shown_for.iccid, added.iccid]}
    response = op_client.post(SUSPEND, posted)

    assert response.status_code == 200
    assert "This confirmation was shown for another action, selection or group" in text(response)
    assert "2 endpoints will be suspended" in text(response)
    assert states(account) == {State.ACTIVE: 2}


def test_a_token_of_another_filter_is_refused(op_client, account, group):
    active(account, group, 2)
    # Both filters match the same two endpoints; the token names the first.
    shown = op_client.post(SUSPEND, {"select_all": "1", "filter": "state=idle&state=active"})
    fields = {**hidden_fields(shown), "filter": "state=active"}

    response = op_client.post(SUSPEND, fields)

    assert "shown for another action, selection or group" in text(response)
    assert states(account) == {State.ACTIVE: 2}


def test_a_token_of_another_group_is_refused(op_client, account, group):
    other_group = GroupFactory(account=account, vslice__subnet="100.66.0.0/16")
    pending = EndpointFactory(account=account, imsis=0)
    shown = op_client.post(ASSIGN, {"ids": [pending.iccid], "group": group.pk})

    response = op_client.post(ASSIGN, {**hidden_fields(shown), "group": other_group.pk})

    assert "shown for another action, selection or group" in text(response)
    assert f"1 endpoint will be assigned to {other_group.name}" in text(response)
    assert Endpoint.objects.get(pk=pending.pk).state == State.PENDING


def test_a_token_of_another_action_is_refused(client, admin_member, account, group):
    client.force_login(admin_member)
    rows = active(account, group, 2)
    shown = client.post(SUSPEND, {"ids": [e.iccid for e in rows]})

    response = client.post(TERMINATE, hidden_fields(shown))

    assert "shown for another action, selection or group" in text(response)
    assert states(account) == {State.ACTIVE: 2}


# --- the number changed ----------------------------------------------------------------


def _activate_one_more(account, group) -> None:
    """Someone else brings a pending endpoint into service meanwhile."""
    pending = EndpointFactory(account=account, imsis=0)
    lifecycle.assign_to_group(
        endpoints=Endpoint.objects.filter(pk=pending.pk), group=group, actor=Actor.SYSTEM
    )


def test_suspend_asks_again_when_the_number_changed(op_client, account, group):
    active(account, group, 3)
    shown = op_client.post(SUSPEND, {"select_all": "1", "filter": "state=active"})
    assert "3 endpoints will be suspended" in text(shown)
    _activate_one_more(account, group)

    response = op_client.post(SUSPEND, {**hidden_fields(shown), "reason": "fleet sold"})

    assert response.status_code == 200
    page = text(response)
    assert (
        "The number changed since you looked: 4 will now be suspended (you confirmed 3). "
        "Confirm again." in page
    )
    assert "fleet sold" in page
    assert states(account) == {State.ACTIVE: 4}
    assert History.objects.filter(to_state=State.SUSPENDED).count() == 0

    again = op_client.post(SUSPEND, {**hidden_fields(response), "reason": "fleet sold"})
    assert again.status_code == 302
    assert "4 suspended" in text(op_client.get(again["Location"]))
    assert states(account) == {State.SUSPENDED: 4}


def test_assign_asks_again_when_the_number_changed(op_client, account, group):
    pending = [EndpointFactory(account=account, imsis=0) for _ in range(3)]
    shown = op_client.post(ASSIGN, {"ids": [e.iccid for e in pending], "group": group.pk})
    assert f"3 endpoints will be assigned to {group.name}" in text(shown)
    lifecycle.terminate(endpoints=Endpoint.objects.filter(pk=pending[0].pk), actor=Actor.SYSTEM)

    response = op_client.post(ASSIGN, hidden_fields(shown))

    assert (
        f"The number changed since you looked: 2 will now be assigned to {group.name} "
        "(you confirmed 3). Confirm again." in text(response)
    )
    assert states(account) == {State.PENDING: 2, State.TERMINATED: 1}


def test_terminate_asks_again_when_the_number_changed_even_with_the_old_number_typed(
    client, admin_member, account, group
):
    client.force_login(admin_member)
    active(account, group, 11)
    shown = client.post(TERMINATE, {"select_all": "1", "filter": "state=active"})
    assert "Type 11" in text(shown)
    _activate_one_more(account, group)

    response = client.post(TERMINATE, {**hidden_fields(shown), "typed_count": "11"})

    page = text(response)
    assert "The number changed since you looked: 12 will now be terminated (you confirmed 11)" in (
        page
    )
    assert "Type 12" in page
    assert states(account) == {State.ACTIVE: 12}


def test_one_endpoint_suspended_meanwhile_is_not_suspended_again(op_client, account, group):
    [endpoint] = active(account, group, 1)
    url = reverse("inventory:endpoint_suspend", args=[endpoint.iccid])
    shown = op_client.get(url)
    lifecycle.suspend(endpoints=Endpoint.objects.filter(pk=endpoint.pk), actor=Actor.SYSTEM)

    response = op_client.post(url, hidden_fields(shown))

    assert response.status_code == 200
    assert (
        "The number changed since you looked: 0 will now be suspended (you confirmed 1)."
        in text(response)
    )
    assert History.objects.filter(endpoint=endpoint).count() == 1  # the system's own


def test_one_endpoint_without_a_token_changes_nothing(op_client, account, group):
    [endpoint] = active(account, group, 1)
    url = reverse("inventory:endpoint_suspend", args=[endpoint.iccid])

    response = op_client.post(url, {"confirm": "1"})

    assert "This confirmation could not be checked" in text(response)
    assert Endpoint.objects.get(pk=endpoint.pk).state == State.ACTIVE
    confirmed = confirm(op_client, url)
    assert confirmed.status_code == 302
    assert Endpoint.objects.get(pk=endpoint.pk).state == State.SUSPENDED


def test_a_terminated_endpoint_confirmed_twice_is_terminated_once(
    client, admin_member, account, group
):
    [endpoint] = active(account, group, 1)
    client.force_login(admin_member)
    url = reverse("inventory:endpoint_terminate", args=[endpoint.iccid])
    shown = client.get(url)
    assert client.post(url, hidden_fields(shown)).status_code == 302

    response = client.post(url, hidden_fields(shown))  # the same form, sent again

    assert "0 will now be terminated (you confirmed 1)" in text(response)
    assert History.objects.filter(endpoint=endpoint).count() == 1
    assert Endpoint.objects.get(pk=endpoint.pk).terminated_at <= timezone.now()
