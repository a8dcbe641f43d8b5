"""Bulk Assign to group, Suspend and Terminate from the list: roles, CSRF,
account scoping, the confirmation page, select-all-matching, the typed count for
large terminations and the field limit."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.models import Endpoint, History, State
from tests.confirming import confirm, hidden_fields, text
from tests.factories import EndpointFactory, GroupFactory

ASSIGN = reverse("inventory:endpoint_bulk_assign")
SUSPEND = reverse("inventory:endpoint_bulk_suspend")
TERMINATE = reverse("inventory:endpoint_bulk_terminate")
LIST = reverse("inventory:endpoint_list")


def states(endpoints) -> list[str]:
    return list(
        Endpoint.objects.filter(pk__in=[e.pk for e in endpoints])
        .order_by("iccid")
        .values_list("state", flat=True)
    )


def active(account, group, n=1, **kwargs):
    return [
        EndpointFactory(account=account, primary_group=group, state=State.ACTIVE, imsis=0, **kwargs)
        for _ in range(n)
    ]


def terminated(account, n=1):
    return [
        EndpointFactory(
            account=account, state=State.TERMINATED, terminated_at=timezone.now(), imsis=0
        )
        for _ in range(n)
    ]


@pytest.fixture
def op_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    return client


# --- who may post ------------------------------------------------------------------


@pytest.mark.parametrize("url", [ASSIGN, SUSPEND, TERMINATE])
def test_anonymous_post_goes_to_login_and_changes_nothing(client, account, group, url):
    endpoint = active(account, group)[0]
    response = client.post(url, {"ids": [endpoint.iccid], "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert states([endpoint]) == [State.ACTIVE]


@pytest.mark.parametrize("url", [ASSIGN, SUSPEND, TERMINATE])
def test_viewer_post_is_403_and_changes_nothing(client, viewer, account, group, url):
    endpoint = active(account, group)[0]
    client.force_login(viewer)
    response = client.post(url, {"ids": [endpoint.iccid], "group": group.pk, "confirm": "1"})
    assert response.status_code == 403
    assert states([endpoint]) == [State.ACTIVE]
    assert not History.objects.filter(endpoint=endpoint).exists()


def test_operator_may_not_terminate(op_client, account, group):
    endpoint = active(account, group)[0]
    response = op_client.post(TERMINATE, {"ids": [endpoint.iccid], "confirm": "1"})
    assert response.status_code == 403
    assert states([endpoint]) == [State.ACTIVE]


def test_get_is_not_allowed_and_changes_nothing(op_client, account, group):
    live = active(account, group, 1)
    assert op_client.get(SUSPEND, {"ids": live[0].iccid, "confirm": "1"}).status_code == 405
    assert states(live) == [State.ACTIVE]


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(LIST)  # sets the CSRF cookie
    return client


@pytest.mark.parametrize("htmx", [False, True])
def test_csrf_is_enforced(operator, account, group, htmx):
    endpoint = active(account, group)[0]
    client = _csrf_client(operator)
    headers = {"HX-Request": "true"} if htmx else {}
    assert client.post(SUSPEND, {"ids": [endpoint.iccid]}, headers=headers).status_code == 403
    token = client.cookies["csrftoken"].value
    shown = client.post(
        SUSPEND, {"ids": [endpoint.iccid], "csrfmiddlewaretoken": token}, headers=headers
    )
    fields = hidden_fields(shown)
    without_token = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    assert client.post(SUSPEND, without_token, headers=headers).status_code == 403
    assert states([endpoint]) == [State.ACTIVE]
    response = client.post(SUSPEND, fields, headers=headers)
    assert response.status_code == 302
    assert states([endpoint]) == [State.SUSPENDED]


# --- the confirmation page ------------------------------------------------------------


def test_first_post_shows_confirmation_and_changes_nothing(op_client, account, group):
    live = active(account, group, 3)
    gone = terminated(account, 2)
    pending = EndpointFactory(account=account, imsis=0)
    response = op_client.post(
        SUSPEND, {"ids": [e.iccid for e in live + gone + [pending]], "filter": "state=active"}
    )
    assert response.status_code == 200
    page = text(response)
    assert "3 endpoints will be suspended, of 6 selected." in page
    assert "2 terminated" in page
    assert "1 pending (not in a group)" in page
    for endpoint in live + gone + [pending]:
        assert endpoint.iccid in page
    assert 'name="reason"' in response.content.decode()
    assert states(live) == [State.ACTIVE] * 3
    assert not History.objects.exists()


def test_sample_is_at_most_ten(op_client, account, group):
    rows = active(account, group, 12)
    response = op_client.post(SUSPEND, {"ids": [e.iccid for e in rows]})
    html = response.content.decode()
    sample = re.search(r'data-testid="sample">.*?</table>', html, re.S).group(0)
    assert len(re.findall(r"/inventory/endpoints/\d+/", sample)) == 10
    assert "12 in all" in text(response)


def test_confirm_suspends_writes_history_and_redirects_with_counts(op_client, account, group):
    live = active(account, group, 3)
    gone = terminated(account, 1)
    response = confirm(
        op_client,
        SUSPEND,
        {
            "ids": [e.iccid for e in live + gone],
            "filter": "state=active&state=terminated&sort=-name&after=zzz&evil=1",
        },
        reason="stolen vehicles",
    )
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?state=active&state=terminated&sort=-name"
    assert states(live) == [State.SUSPENDED] * 3
    assert states(gone) == [State.TERMINATED]
    assert set(History.objects.filter(endpoint__in=live).values_list("reason", "to_state")) == {
        ("stolen vehicles", State.SUSPENDED)
    }
    followed = op_client.get(response["Location"])
    assert "3 suspended, 1 skipped: terminated" in text(followed)


def test_assign_moves_pending_to_active_in_the_group(op_client, account, group):
    pending = [EndpointFactory(account=account, imsis=0) for _ in range(2)]
    response = confirm(op_client, ASSIGN, {"ids": [e.iccid for e in pending], "group": group.pk})
    assert response.status_code == 302
    rows = Endpoint.objects.filter(pk__in=[e.pk for e in pending])
    assert {(e.state, e.primary_group_id) for e in rows} == {(State.ACTIVE, group.pk)}
    assert "2 assigned" in text(op_client.get(response["Location"]))


def test_assign_confirmation_names_the_group(op_client, account, group):
    pending = EndpointFactory(account=account, imsis=0)
    response = op_client.post(ASSIGN, {"ids": [pending.iccid], "group": group.pk})
    assert f"1 endpoint will be assigned to {group.name}" in text(response)
    assert states([pending]) == [State.PENDING]


@pytest.mark.parametrize("group_value", ["", "abc", "OTHER"])
def test_assign_to_another_accounts_group_is_a_form_error(
    op_client, account, other_account, group_value
):
    foreign = GroupFactory(account=other_account)
    pending = EndpointFactory(account=account, imsis=0)
    value = str(foreign.pk) if group_value == "OTHER" else group_value
    response = op_client.post(ASSIGN, {"ids": [pending.iccid], "group": value, "confirm": "1"})
    assert response.status_code == 200
    page = text(response)
    assert (
        "That group is not one of this account's groups." in page
        or "Choose the group to assign the endpoints to." in page
    )
    assert states([pending]) == [State.PENDING]
    assert not History.objects.exists()


# --- scoping --------------------------------------------------------------------------


def test_only_other_accounts_ids_is_404(op_client, account, other_account):
    foreign_group = GroupFactory(account=other_account)
    foreign = active(other_account, foreign_group, 2)
    response = op_client.post(SUSPEND, {"ids": [e.iccid for e in foreign], "confirm": "1"})
    assert response.status_code == 404
    assert states(foreign) == [State.ACTIVE] * 2


def test_other_accounts_ids_mixed_in_are_silently_not_found(
    op_client, account, other_account, group
):
    foreign = active(other_account, GroupFactory(account=other_account))[0]
    mine = active(account, group)[0]
    response = confirm(op_client, SUSPEND, {"ids": [mine.iccid, foreign.iccid]})
    assert response.status_code == 302
    assert states([mine]) == [State.SUSPENDED]
    assert states([foreign]) == [State.ACTIVE]
    assert "1 suspended" in text(op_client.get(response["Location"]))


def test_no_selection_goes_back_with_a_message(op_client, account):
    response = op_client.post(SUSPEND, {"filter": "state=active"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?state=active"
    assert "Select at least one endpoint first." in text(op_client.get(response["Location"]))


# --- select all matching ----------------------------------------------------------------


def test_select_all_matching_reevaluates_the_filter_in_the_account(
    op_client, account, other_account, group
):
    tagged = active(account, group, 4, tags=["fleet-eu"])
    untagged = active(account, group, 2)
    foreign = active(other_account, GroupFactory(account=other_account), 2, tags=["fleet-eu"])
    data = {"select_all": "1", "filter": "tag=fleet-eu", "ids": [untagged[0].iccid]}
    shown = op_client.post(SUSPEND, data)
    assert "4 endpoints will be suspended" in text(shown)
    assert 'name="select_all" value="1"' in shown.content.decode()
    response = op_client.post(SUSPEND, hidden_fields(shown))
    assert response.status_code == 302
    assert states(tagged) == [State.SUSPENDED] * 4
    assert states(untagged) == [State.ACTIVE] * 2
    assert states(foreign) == [State.ACTIVE] * 2


def test_select_all_with_an_invalid_filter_changes_nothing(op_client, account, group):
    rows = active(account, group, 2)
    response = op_client.post(
        SUSPEND, {"select_all": "1", "filter": "state=sleeping", "confirm": "1"}
    )
    assert response.status_code == 302
    assert "not valid any more" in text(op_client.get(response["Location"]))
    assert states(rows) == [State.ACTIVE] * 2


def test_select_all_of_a_group_of_another_account_changes_nothing(
    op_client, account, other_account
):
    foreign_group = GroupFactory(account=other_account)
    foreign = active(other_account, foreign_group, 2)
    response = op_client.post(
        SUSPEND, {"select_all": "1", "filter": f"group={foreign_group.pk}", "confirm": "1"}
    )
    assert response.status_code == 302
    assert states(foreign) == [State.ACTIVE] * 2


# --- terminate: typed count --------------------------------------------------------------


@pytest.fixture
def twelve(account, group):
    return active(account, group, 11) + terminated(account, 1) + active(account, group, 1)


def _terminate(client, rows, **typed):
    return confirm(client, TERMINATE, {"ids": [e.iccid for e in rows]}, **typed)


def test_terminate_page_warns_plainly(admin_client, account, group):
    rows = active(account, group, 2)
    page = text(admin_client.post(TERMINATE, {"ids": [e.iccid for e in rows]}))
    assert "Termination cannot be undone through the portal." in page
    assert "kept for 90 days after termination" in page
    assert "deleted permanently" in page


@pytest.mark.parametrize("typed", [None, "", "11", "13", "twelve"])
def test_terminating_more_than_ten_needs_the_exact_number(admin_client, twelve, typed):
    extra = {} if typed is None else {"typed_count": typed}
    response = _terminate(admin_client, twelve, **extra)
    assert response.status_code == 200
    assert "Type the number of endpoints that will be terminated, 12, to confirm" in text(response)
    assert Endpoint.objects.filter(state=State.TERMINATED).count() == 1
    assert not History.objects.exists()


@pytest.mark.parametrize("typed", ["12", " 12 "])
def test_terminating_more_than_ten_with_the_number_typed(admin_client, twelve, typed):
    response = _terminate(admin_client, twelve, typed_count=typed)
    assert response.status_code == 302
    assert Endpoint.objects.filter(state=State.TERMINATED).count() == 13
    assert "12 terminated, 1 skipped: already terminated" in text(
        admin_client.get(response["Location"])
    )


def test_confirmation_asks_for_the_number_only_above_ten(admin_client, account, group):
    rows = active(account, group, 10)
    page = admin_client.post(TERMINATE, {"ids": [e.iccid for e in rows]}).content.decode()
    assert 'name="typed_count"' not in page
    rows += active(account, group, 1)
    page = admin_client.post(TERMINATE, {"ids": [e.iccid for e in rows]}).content.decode()
    assert 'name="typed_count"' in page
    response = _terminate(admin_client, rows[:10])
    assert response.status_code == 302
    assert Endpoint.objects.filter(state=State.TERMINATED).count() == 10


# --- limits and the audit log ------------------------------------------------------------


def test_more_ids_than_the_field_limit_is_a_clear_400(op_client, account, group, settings):
    rows = active(account, group, 2)
    ids = [e.iccid for e in rows] + [f"89{n:017d}" for n in range(3001)]
    response = op_client.post(SUSPEND, {"ids": ids, "confirm": "1"})
    assert response.status_code == 400
    page = text(response)
    assert "More endpoints were ticked than one request can carry" in page
    assert "Select all … matching this filter" in page
    assert states(rows) == [State.ACTIVE] * 2


def test_bulk_action_is_written_to_the_audit_log(op_client, account, group, caplog):
    rows = active(account, group, 2)
    with caplog.at_level(logging.INFO, logger="inventory.audit"):
        confirm(op_client, SUSPEND, {"ids": [e.iccid for e in rows]})
    records = [r for r in caplog.records if r.name == "inventory.audit"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "action=suspend" in message and "user=op" in message
    assert f"account={account.slug}" in message and "changed=2" in message
    assert "request_id=" in message and "request_id=-" not in message


def test_the_request_log_line_of_a_bulk_action_carries_its_counts(
    op_client, account, group, caplog
):
    live = active(account, group, 2)
    gone = terminated(account, 1)
    with caplog.at_level(logging.INFO, logger="portal.request"):
        confirm(op_client, SUSPEND, {"ids": [e.iccid for e in live + gone]})
    line = [r for r in caplog.records if r.name == "portal.request"][-1]  # the confirming POST
    assert line.access["account"] == "vantiq"
    assert (line.access["action"], line.access["changed"], line.access["skipped"]) == (
        "suspend",
        2,
        1,
    )


def test_a_selection_of_nothing_iccid_shaped_is_refused_and_changes_nothing(
    op_client, account, group
):
    live = active(account, group, 1)
    response = op_client.post(
        SUSPEND, {"ids": ["\x00", "abc", "1" * 200], "confirm": "1"}, follow=True
    )
    assert response.redirect_chain[0][1] == 302
    assert "holds no ICCIDs" in text(response)
    assert states(live) == [State.ACTIVE]
