"""The endpoint detail tabs: what each shows, who sees which actions, and what a
page costs in queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import (
    AllocationKind,
    EventType,
    History,
    HistoryAction,
    IPAllocation,
    SecondaryMembership,
    State,
)
from portal.models import ActorKind, Role
from tests.factories import EndpointFactory, GroupFactory, IMSIFactory, MemberFactory, imei_for

TABS = ["inventory:endpoint_detail", "inventory:endpoint_ips", "inventory:endpoint_history"]
#: session, user, memberships, the endpoint with its groups, then two per tab
#: (IMSIs + secondary groups; secondary groups + addresses; count + page of history);
#: the Overview also reads the Connectivity card's snapshot and this month's
#: usage limit (and, for a suspended endpoint, its suspension row).
MAX_QUERIES = {"inventory:endpoint_detail": 8}
DEFAULT_MAX_QUERIES = 6


def url(name: str, endpoint) -> str:
    return reverse(name, args=[endpoint.iccid])


@pytest.fixture
def active(account, group):
    return EndpointFactory(
        account=account,
        state=State.ACTIVE,
        primary_group=group,
        name="car-0042",
        reference="VIN WVW123",
        tags=["eu", "fleet-a"],
        imei_lock_enabled=True,
        imei=imei_for(7),
        last_activity=timezone.now() - timedelta(minutes=5),
    )


def add_secondary(endpoint, group):
    return SecondaryMembership.objects.create(
        account=endpoint.account, endpoint=endpoint, group=group
    )


def allocate(endpoint, group, address, kind=AllocationKind.AUTO):
    return IPAllocation.objects.create(
        account=endpoint.account,
        endpoint=endpoint,
        group=group,
        vslice=group.vslice,
        address=address,
        kind=kind,
    )


def add_history(endpoint, action, *, minutes_ago=0, **fields):
    return History.objects.create(
        account=endpoint.account,
        endpoint=endpoint,
        at=timezone.now() - timedelta(minutes=minutes_ago),
        actor_kind=fields.pop("actor_kind", ActorKind.USER),
        actor_label=fields.pop("actor_label", "op"),
        action=action,
        **fields,
    )


# --- access -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", TABS)
def test_anonymous_is_sent_to_login(client, active, name):
    response = client.get(url(name, active))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("name", TABS)
def test_other_accounts_endpoint_is_not_found(client, operator, other_account, name):
    foreign = EndpointFactory(account=other_account, name="secret-northwind")
    client.force_login(operator)
    response = client.get(url(name, foreign))
    assert response.status_code == 404
    assert b"secret-northwind" not in response.content
    assert foreign.iccid.encode() not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("iccid", ["8944000000000000000", "not-an-iccid", "89" + "9" * 30])
def test_unknown_iccid_is_not_found(client, operator, iccid):
    client.force_login(operator)
    response = client.get(f"/inventory/endpoints/{iccid}/")
    assert response.status_code == 404
    assert "There is nothing at this address in your current account." in response.content.decode()


# --- overview -----------------------------------------------------------------


@pytest.mark.django_db
def test_overview_shows_the_endpoint(client, viewer, account, active, group):
    second = GroupFactory(account=account, name="vantiq-infotainment", apn="media.vantiq")
    add_secondary(active, second)
    IMSIFactory(endpoint=active, imsi="234150000099999")
    client.force_login(viewer)

    response = client.get(url("inventory:endpoint_detail", active))

    assert response.status_code == 200
    html = response.content.decode()
    assert active.iccid in html
    for imsi in active.imsis.values_list("imsi", flat=True):
        assert imsi in html
    assert "234150000099999" in html
    assert "car-0042" in html
    assert "VIN WVW123" in html
    assert "state-active" in html and ">Active<" in html
    assert "vantiq-connect-eu" in html
    assert "vantiq-infotainment" in html and "media.vantiq" in html
    assert group.vslice.name in html and "100.64.0.0/16" in html
    assert group.apn in html
    assert ">eu<" in html and ">fleet-a<" in html
    assert f'On, locked to <span class="mono">{imei_for(7)}</span>' in html
    assert "5\xa0minutes ago" in html or "5 minutes ago" in html
    assert active.last_activity.strftime("%Y-%m-%d %H:%M") in html
    events = reverse("inventory:event_list") + f"?endpoint={active.iccid}"
    assert f'href="{events}"' in html
    assert "will be deleted" not in html


@pytest.mark.django_db
def test_overview_marks_its_tab_current(client, viewer, active):
    client.force_login(viewer)
    html = client.get(url("inventory:endpoint_detail", active)).content.decode()
    current = f'href="{url("inventory:endpoint_detail", active)}" aria-current="page">Overview<'
    assert current in html
    assert 'aria-current="page">IP Addresses<' not in html
    assert 'aria-current="page">History<' not in html


@pytest.mark.django_db
def test_overview_of_a_pending_endpoint(client, viewer, account):
    endpoint = EndpointFactory(account=account)
    client.force_login(viewer)
    html = client.get(url("inventory:endpoint_detail", endpoint)).content.decode()
    assert "None (not in a group)" in html
    assert "Never seen on the network" in html
    assert "IMEI lock</dt>" in html and ">Off<" in html


@pytest.mark.django_db
def test_terminated_endpoint_shows_its_deletion_date(client, viewer, account):
    terminated_at = timezone.now() - timedelta(days=10)
    endpoint = EndpointFactory(account=account, state=State.TERMINATED, terminated_at=terminated_at)
    client.force_login(viewer)
    html = client.get(url("inventory:endpoint_detail", endpoint)).content.decode()
    deletion = (terminated_at + timedelta(days=90)).strftime("%Y-%m-%d")
    assert f"will be deleted on <strong>{deletion}</strong>" in html
    assert terminated_at.strftime("%Y-%m-%d %H:%M") in html


# --- actions menu by role -------------------------------------------------------


def action_links(html: str, endpoint) -> set[str]:
    found = set()
    for label, name in [
        ("edit", "inventory:endpoint_edit"),
        ("suspend", "inventory:endpoint_suspend"),
        ("terminate", "inventory:endpoint_terminate"),
    ]:
        if f'href="{url(name, endpoint)}"' in html:
            found.add(label)
    return found


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "state", "expected"),
    [
        (Role.VIEWER, State.ACTIVE, set()),
        (Role.OPERATOR, State.ACTIVE, {"edit", "suspend"}),
        (Role.OPERATOR, State.IDLE, {"edit", "suspend"}),
        (Role.OPERATOR, State.PENDING, {"edit"}),
        (Role.OPERATOR, State.SUSPENDED, {"edit"}),
        (Role.ADMIN, State.DETACHED, {"edit", "suspend", "terminate"}),
        (Role.ADMIN, State.SUSPENDED, {"edit", "terminate"}),
        (Role.ADMIN, State.TERMINATED, set()),
    ],
)
def test_actions_menu_follows_role_and_state(client, account, group, role, state, expected):
    user = MemberFactory(account=account, role=role).user
    endpoint = EndpointFactory(
        account=account,
        state=state,
        primary_group=group if state != State.PENDING else None,
        terminated_at=timezone.now() if state == State.TERMINATED else None,
    )
    client.force_login(user)
    for name in TABS:
        html = client.get(url(name, endpoint)).content.decode()
        assert action_links(html, endpoint) == expected, name
        # The header's Account menu is a dropdown too; the Actions menu is in <main>.
        content = html.split('<main id="main"', 1)[1]
        assert ('data-bs-toggle="dropdown"' in content) == bool(expected)
        assert ("<noscript>" in html) == bool(expected)


# --- IP addresses -------------------------------------------------------------


@pytest.mark.django_db
def test_ip_tab_has_one_row_per_membership(client, viewer, account, active, group):
    second = GroupFactory(account=account, name="b-telemetry", apn="tm.vantiq")
    third = GroupFactory(account=account, name="c-ota", apn="ota.vantiq")
    add_secondary(active, second)
    add_secondary(active, third)
    allocate(active, group, "100.64.0.10", AllocationKind.STATIC)
    allocate(active, second, second.vslice.subnet.replace("0.0/16", "0.7"))
    client.force_login(viewer)

    response = client.get(url("inventory:endpoint_ips", active))

    html = response.content.decode()
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    rows = body.split("<tr>")[1:]
    assert len(rows) == 3
    assert "vantiq-connect-eu" in rows[0] and "Primary" in rows[0]
    assert "100.64.0.10" in rows[0] and "Static" in rows[0]
    assert "b-telemetry" in rows[1] and "tm.vantiq" in rows[1] and "Automatic" in rows[1]
    assert "c-ota" in rows[2] and "No address until the first data session" in rows[2]
    assert 'aria-current="page">IP Addresses<' in html


@pytest.mark.django_db
def test_ip_tab_of_an_endpoint_in_no_group(client, viewer, account):
    endpoint = EndpointFactory(account=account)
    client.force_login(viewer)
    html = client.get(url("inventory:endpoint_ips", endpoint)).content.decode()
    assert "in no group, so it has no IP address" in html


# --- history ------------------------------------------------------------------


@pytest.mark.django_db
def test_history_is_newest_first_and_readable(client, viewer, active):
    add_history(active, "assign", minutes_ago=30, from_state="pending", to_state="active")
    add_history(
        active,
        "edited",
        minutes_ago=10,
        changes={"name": ["", "car-0042"], "tags": [["eu"], ["eu", "fleet-a"]]},
    )
    add_history(
        active,
        "session_start",
        minutes_ago=5,
        actor_kind=ActorKind.NETWORK,
        actor_label="network",
        from_state="idle",
        to_state="active",
        changes={"event": "core-42", "apn": "iot.vantiq", "ip": [None, "100.64.0.5"]},
    )
    add_history(
        active,
        "suspend",
        minutes_ago=1,
        actor_kind=ActorKind.SUPPORT,
        actor_label="support-anna",
        from_state="active",
        to_state="suspended",
        reason="stolen vehicle",
    )
    client.force_login(viewer)

    html = client.get(url("inventory:endpoint_history", active)).content.decode()

    assert html.index("<td>Suspended</td>") < html.index("<td>Edited</td>")
    assert html.index("<td>Edited</td>") < html.index("<td>Assigned to group</td>")
    assert "stolen vehicle" in html
    assert 'Name: <span class="text-secondary">(none)</span> → car-0042' in html
    assert 'Tags: <span class="text-secondary">eu</span> → eu, fleet-a' in html
    assert "state-pending" in html and "state-suspended" in html
    assert "support-anna" in html and ">Support<" in html
    assert "<td>Data session started</td>" in html and ">Network<" in html
    assert "Network event id: core-42" in html and "APN: iot.vantiq" in html
    assert 'IP address: <span class="text-secondary">(none)</span> → 100.64.0.5' in html


@pytest.mark.django_db
def test_history_pages_by_25(client, viewer, active):
    for n in range(30):
        add_history(active, "edited", minutes_ago=100 - n, changes={"reference": ["", f"ref-{n}"]})
    client.force_login(viewer)
    link = url("inventory:endpoint_history", active)

    first = client.get(link).content.decode()
    second = client.get(link + "?page=2").content.decode()
    bad = client.get(link + "?page=abc").content.decode()

    assert "ref-29<" in first and "ref-5<" in first and "ref-4<" not in first
    assert "Page 1 of 2" in first
    assert "ref-4<" in second and "ref-0<" in second and "ref-5<" not in second
    assert "Page 2 of 2" in second
    assert "ref-29<" in bad  # an unreadable page number shows the first page


@pytest.mark.django_db
def test_history_of_another_endpoint_is_not_shown(client, viewer, account, active):
    other = EndpointFactory(account=account)
    add_history(other, "edited", changes={"name": ["", "not-this-one"]})
    client.force_login(viewer)
    html = client.get(url("inventory:endpoint_history", active)).content.decode()
    assert "not-this-one" not in html
    assert "No changes recorded yet." in html


# --- query counts ---------------------------------------------------------------


def _grow(endpoint, account, n: int):
    for i in range(n):
        IMSIFactory(endpoint=endpoint)
        group = GroupFactory(account=account)
        add_secondary(endpoint, group)
        allocate(endpoint, group, group.vslice.subnet.replace("0.0/16", f"0.{i + 2}"))
    for i in range(n * 10):
        add_history(endpoint, "edited", minutes_ago=i, changes={"name": [str(i), str(i + 1)]})


@pytest.mark.django_db
@pytest.mark.parametrize("name", TABS)
def test_query_count_does_not_grow_with_the_data(
    client, admin_member, account, active, name, django_assert_max_num_queries
):
    client.force_login(admin_member)
    _grow(active, account, 1)
    most = MAX_QUERIES.get(name, DEFAULT_MAX_QUERIES)
    with django_assert_max_num_queries(most):
        small = client.get(url(name, active))
    _grow(active, account, 6)
    with django_assert_max_num_queries(most):
        large = client.get(url(name, active))
    assert small.status_code == large.status_code == 200
    assert len(large.content) > len(small.content)


def test_every_network_event_type_is_a_history_action():
    """The network records a state change under the event's own type."""
    assert set(EventType.values) <= set(HistoryAction.values)


@pytest.mark.django_db
def test_history_shows_each_action_with_its_label(client, viewer, active):
    for n, action in enumerate(HistoryAction):
        add_history(active, action.value, minutes_ago=n)
    client.force_login(viewer)

    html = client.get(url("inventory:endpoint_history", active)).content.decode()

    labels = [action.label for action in HistoryAction]
    assert [label for label in labels if f"<td>{label}</td>" not in html] == []
