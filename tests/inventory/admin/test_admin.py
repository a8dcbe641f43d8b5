"""Django admin for support staff: every model, bounded counts, the lifecycle
actions, network tokens and the SIM upload."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from inventory.admin import registrations as inventory_admin
from inventory.models import (
    IMSI,
    Endpoint,
    EventStatus,
    EventType,
    History,
    HistoryAction,
    IPAllocation,
    NetworkEvent,
    NetworkToken,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from network.tokens import create_token, hash_token
from portal import paging as admin_paging
from portal.models import Member
from tests.factories import (
    EndpointFactory,
    GroupFactory,
    UserFactory,
    iccid_for,
    imsi_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(client):
    user = UserFactory(username="support", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def fleet(account, group, operator):
    """One row of every inventory model."""
    active = EndpointFactory(
        account=account, state=State.ACTIVE, primary_group=group, name="Truck 7", imsis=2
    )
    IPAllocation.objects.create(
        account=account,
        endpoint=active,
        group=group,
        vslice=group.vslice,
        address="100.64.0.1",
        kind="auto",
    )
    secondary = GroupFactory(account=account, name="apn2-group")
    SecondaryMembership.objects.create(account=account, endpoint=active, group=secondary)
    History.objects.create(
        account=account, endpoint=active, actor_kind="system", action="created", to_state="pending"
    )
    SessionTeardown.objects.create(
        account=account, endpoint=active, imsi=active.imsis.first().imsi, reason="suspended"
    )
    NetworkEvent.objects.create(
        event_id="ev-1",
        account=account,
        endpoint=active,
        type=EventType.ATTACH,
        imsi=active.imsis.first().imsi,
        at=timezone.now(),
        status=EventStatus.ACCEPTED,
    )
    NetworkToken.objects.create(name="pgw-1", token_hash="0" * 64)
    return active


def terminated(account, *, days: float) -> Endpoint:
    return EndpointFactory(
        account=account,
        state=State.TERMINATED,
        terminated_at=timezone.now() - timedelta(days=days),
    )


def bad_luhn(iccid: str) -> str:
    return iccid[:-1] + str((int(iccid[-1]) + 1) % 10)


def changelist(model: str) -> str:
    app = "portal" if model in ("account", "member") else "inventory"
    return reverse(f"admin:{app}_{model}_changelist")


@pytest.mark.parametrize(
    ("model", "lookup", "expected"),
    [
        ("inventory.endpoint", {"name": "Truck 7"}, "Truck 7"),
        ("inventory.imsi", {}, imsi_for(0)[:5]),
        ("inventory.ipallocation", {}, "100.64.0.1"),
        ("inventory.secondarymembership", {}, "apn2-group"),
        ("inventory.history", {}, "created"),
        ("inventory.sessionteardown", {}, "suspend"),
        ("inventory.networkevent", {}, "Attach"),
        ("inventory.networktoken", {}, "pgw-1"),
        ("inventory.vslice", {"subnet": "100.64.0.0/16"}, "100.64.0.0/16"),
        ("inventory.group", {"name": "vantiq-connect-eu"}, "vantiq-connect-eu"),
        ("portal.account", {"slug": "vantiq"}, "Vantiq Connect"),
        ("portal.member", {}, "Vantiq Connect"),
    ],
)
def test_every_changelist_and_change_page_renders(client, support, fleet, model, lookup, expected):
    app_label, model_name = model.split(".")
    response = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert response.status_code == 200
    assert expected in response.content.decode()

    obj = apps.get_model(model).objects.filter(**lookup).first()
    page = client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk]))
    assert page.status_code == 200
    assert expected in page.content.decode()


def test_changelist_of_a_secondary_membership_shows_the_iccid(client, support, fleet):
    response = client.get(changelist("secondarymembership"))
    assert fleet.iccid in response.content.decode()


def test_the_endpoint_changelist_runs_a_fixed_number_of_queries(
    client, support, account, group, django_assert_max_num_queries
):
    for _ in range(30):
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    with django_assert_max_num_queries(12):
        response = client.get(changelist("endpoint"))
    assert response.content.decode().count("/change/") >= 30
    assert "30 endpoints" in response.content.decode()


def test_large_counts_are_estimated_and_pages_still_work(client, support, account, monkeypatch):
    monkeypatch.setattr(admin_paging, "EXACT_COUNT_LIMIT", 5)
    monkeypatch.setattr(inventory_admin.EndpointAdmin, "list_per_page", 4)
    endpoints = [EndpointFactory(account=account, imsis=0) for _ in range(12)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_endpoint")

    first = client.get(changelist("endpoint"))
    body = first.content.decode()
    assert "(estimated)" in body and "about" in body
    assert endpoints[0].iccid in body and endpoints[4].iccid not in body

    second = client.get(changelist("endpoint") + "?p=2")
    assert second.status_code == 200
    assert endpoints[4].iccid in second.content.decode()


def test_a_large_estimate_is_shown_without_counting(
    client, support, account, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(admin_paging, "ESTIMATE_TRUSTED_ABOVE", 5)
    for _ in range(12):
        EndpointFactory(account=account, imsis=0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inventory_endpoint")

    with django_assert_max_num_queries(12) as queries:
        body = client.get(changelist("endpoint")).content.decode()

    assert "about 12 endpoints (estimated)" in body
    assert not any("COUNT(" in q["sql"] for q in queries.captured_queries)


def test_small_counts_are_exact(client, support, account):
    for _ in range(3):
        EndpointFactory(account=account, imsis=0)
    body = client.get(changelist("endpoint")).content.decode()
    assert "3 endpoints" in body and "estimated" not in body


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("{iccid}", True),
        ("{iccid_prefix}", True),
        ("{iccid_suffix}", True),
        ("{imsi_suffix}", True),
        ("ruck 4", True),
        ("REF-44", True),
        ("no such thing", False),
    ],
)
def test_endpoint_search_by_iccid_imsi_name_reference(client, support, account, term, found):
    target = EndpointFactory(account=account, name="Truck 44", reference="ref-4411", imsis=1)
    other = EndpointFactory(account=account, name="Van 1", imsis=1)
    imsi = target.imsis.get().imsi
    term = term.format(
        iccid=target.iccid,
        iccid_prefix=target.iccid[:18],
        iccid_suffix=target.iccid[-6:],
        imsi_suffix=imsi[-7:],
    )
    body = client.get(changelist("endpoint"), {"q": term}).content.decode()
    assert (target.iccid in body) is found
    assert other.iccid not in body


def test_imsi_search_by_digits(client, support, account):
    endpoint = EndpointFactory(account=account, imsis=2)
    first, second = endpoint.imsis.order_by("imsi")
    body = client.get(changelist("imsi"), {"q": first.imsi}).content.decode()
    assert first.imsi in body and second.imsi not in body


@pytest.mark.parametrize(
    ("term", "shown"),
    [
        ("{iccid}", {"first", "second"}),
        ("{spaced_iccid}", {"first", "second"}),
        ("{first_prefix}", {"first"}),
        ("Truck", set()),
    ],
)
def test_imsi_search_by_full_iccid_or_prefix_and_never_by_text(
    client, support, account, term, shown
):
    endpoint = EndpointFactory(account=account, name="Truck 9", imsis=2)
    other = EndpointFactory(account=account, name="Truck 10", imsis=1)
    first, second = endpoint.imsis.order_by("imsi")
    iccid = endpoint.iccid
    term = term.format(
        iccid=iccid,
        spaced_iccid=f"{iccid[:4]} {iccid[4:10]}-{iccid[10:]}",
        first_prefix=first.imsi,
    )
    response = client.get(changelist("imsi"), {"q": term})
    assert response.status_code == 200
    body = response.content.decode()
    found = {name for name, imsi in (("first", first), ("second", second)) if imsi.imsi in body}
    assert found == shown
    assert other.imsis.get().imsi not in body


def post_action(client, action: str, endpoints, **extra):
    data = {"action": action, "_selected_action": [e.pk for e in endpoints], **extra}
    return client.post(changelist("endpoint"), data, follow=True)


def test_suspend_action_uses_the_lifecycle_rule(client, support, account, group):
    active = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    pending = EndpointFactory(account=account)

    response = post_action(client, "suspend_selected", [active, pending])

    active.refresh_from_db()
    pending.refresh_from_db()
    assert (active.state, pending.state) == (State.SUSPENDED, State.PENDING)
    assert "1 suspended, 1 skipped: pending (not in a group)" in response.content.decode()
    row = History.objects.get(endpoint=active, action="suspend")
    assert (row.actor_kind, row.actor_label, row.to_state) == ("support", "support", "suspended")


def test_terminate_action_asks_first_then_terminates(client, support, account, group):
    active = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)

    confirm = post_action(client, "terminate_selected", [active])
    body = confirm.content.decode()
    assert "1 will be terminated" in body and active.iccid in body
    active.refresh_from_db()
    assert active.state == State.ACTIVE

    done = post_action(client, "terminate_selected", [active], confirm="yes")
    active.refresh_from_db()
    assert active.state == State.TERMINATED and active.terminated_at is not None
    assert "1 terminated" in done.content.decode()


def test_reinstate_within_90_days_makes_the_endpoint_pending(client, support, account):
    endpoint = terminated(account, days=89)

    response = post_action(client, "reinstate_selected", [endpoint])

    endpoint.refresh_from_db()
    assert endpoint.state == State.PENDING and endpoint.terminated_at is None
    assert "1 reinstated" in response.content.decode()
    assert History.objects.filter(
        endpoint=endpoint, action="reinstate", actor_kind="support", to_state="pending"
    ).exists()


def test_reinstate_after_90_days_is_refused_with_a_message(client, support, account):
    endpoint = terminated(account, days=91)

    response = post_action(client, "reinstate_selected", [endpoint])

    endpoint.refresh_from_db()
    assert endpoint.state == State.TERMINATED
    assert "No endpoints reinstated; 1 skipped: terminated more than 90 days ago" in (
        response.content.decode()
    )
    assert not History.objects.filter(endpoint=endpoint).exists()


def test_the_iccid_is_read_only_once_created(client, support, account):
    endpoint = EndpointFactory(account=account, name="before", imsis=1)
    imsi = endpoint.imsis.get()
    url = reverse("admin:inventory_endpoint_change", args=[endpoint.pk])
    page = client.get(url).content.decode()
    assert 'name="iccid"' not in page and endpoint.iccid in page

    client.post(
        url,
        {
            "iccid": iccid_for(999_999),
            "name": "after",
            "reference": "",
            "tags": "fleet:a, EU",
            "imei": "",
            "imsis-TOTAL_FORMS": "1",
            "imsis-INITIAL_FORMS": "1",
            "imsis-MIN_NUM_FORMS": "1",
            "imsis-MAX_NUM_FORMS": "1000",
            "imsis-0-id": imsi.pk,
            "imsis-0-endpoint": endpoint.pk,
            "imsis-0-imsi": imsi.imsi,
        },
    )

    endpoint.refresh_from_db()
    assert endpoint.iccid != iccid_for(999_999)
    assert (endpoint.name, endpoint.tags) == ("after", ["fleet:a", "eu"])
    edit = History.objects.get(endpoint=endpoint, action="edited")
    assert edit.actor_kind == "support" and edit.changes["name"] == ["before", "after"]


def test_a_terminated_endpoint_is_view_only(client, support, account):
    endpoint = terminated(account, days=3)
    page = client.get(reverse("admin:inventory_endpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()


def test_support_allocates_a_sim_in_the_admin(client, support, account):
    response = client.post(
        reverse("admin:inventory_endpoint_add"),
        {
            "account": account.pk,
            "iccid": iccid_for(4242),
            "name": "Spare",
            "reference": "",
            "tags": "",
            "imei": "",
            "imsis-TOTAL_FORMS": "1",
            "imsis-INITIAL_FORMS": "0",
            "imsis-MIN_NUM_FORMS": "1",
            "imsis-MAX_NUM_FORMS": "1000",
            "imsis-0-imsi": imsi_for(4242),
        },
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.get(iccid=iccid_for(4242))
    assert (endpoint.account, endpoint.state) == (account, State.PENDING)
    assert IMSI.objects.get(imsi=imsi_for(4242)).account == account
    assert History.objects.filter(endpoint=endpoint, action="created", actor_kind="support")


def test_a_bad_iccid_in_the_add_form_is_a_clear_error(client, support, account):
    response = client.post(
        reverse("admin:inventory_endpoint_add"),
        {
            "account": account.pk,
            "iccid": bad_luhn(iccid_for(1)),
            "imsis-TOTAL_FORMS": "1",
            "imsis-INITIAL_FORMS": "0",
            "imsis-MIN_NUM_FORMS": "1",
            "imsis-MAX_NUM_FORMS": "1000",
            "imsis-0-imsi": imsi_for(1),
        },
    )
    assert response.status_code == 200
    assert "check digit" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_a_group_cannot_use_another_accounts_vslice(client, support, account, other_account):
    foreign = GroupFactory(account=other_account).vslice
    response = client.post(
        reverse("admin:inventory_group_add"),
        {"account": account.pk, "name": "mixed", "vslice": foreign.pk, "apn": "x.example"},
    )
    assert "belongs to another account" in response.content.decode()
    assert not account.groups.filter(name="mixed").exists()


def test_a_new_network_token_is_shown_once_and_stored_hashed(client, support):
    response = client.post(
        reverse("admin:inventory_networktoken_add"),
        {"name": "pgw-eu", "enabled": "on"},
        follow=True,
    )
    body = response.content.decode()
    token = re.search(r"Token for “pgw-eu”: (\S+) — copy it now", body).group(1)
    stored = NetworkToken.objects.get(name="pgw-eu")
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash

    listing = client.get(changelist("networktoken")).content.decode()
    assert token not in listing

    client.post(changelist("networktoken"), {"action": "disable", "_selected_action": [stored.pk]})
    stored.refresh_from_db()
    assert stored.enabled is False


def test_account_admin_lists_members(client, support, account, operator):
    page = client.get(reverse("admin:portal_account_change", args=[account.pk])).content.decode()
    assert "op" in page and Member.objects.get(user=operator).role in page


def upload(client, text: str, account, **extra):
    file = SimpleUploadedFile("sims.csv", text.encode(), content_type="text/csv")
    return client.post(
        reverse("admin:inventory_endpoint_import"),
        {"account": account.pk, "file": file, **extra},
        follow=True,
    )


def test_the_import_page_is_linked_from_the_changelist(client, support):
    body = client.get(changelist("endpoint")).content.decode()
    assert reverse("admin:inventory_endpoint_import") in body
    page = client.get(reverse("admin:inventory_endpoint_import")).content.decode()
    assert "Waive the ICCID check digit" in page


def test_uploading_a_clean_csv_imports_it(client, support, account):
    text = (
        f"iccid,imsis,name\n{iccid_for(71)},{imsi_for(71)},Car\n{iccid_for(72)},{imsi_for(72)},\n"
    )

    response = upload(client, text, account)

    assert "2 endpoints with 2 IMSIs imported as Pending into Vantiq Connect" in (
        response.content.decode()
    )
    assert set(Endpoint.objects.values_list("iccid", "state")) == {
        (iccid_for(71), "pending"),
        (iccid_for(72), "pending"),
    }
    assert History.objects.filter(action="created", actor_kind="support").count() == 2


def test_uploading_a_bad_csv_lists_every_bad_line_and_imports_nothing(client, support, account):
    wrong = bad_luhn(iccid_for(73))
    text = (
        "iccid,imsis\n"
        f"{iccid_for(74)},{imsi_for(74)}\n"
        f"{wrong},{imsi_for(73)}\n"
        f"{iccid_for(74)},{imsi_for(75)}\n"
    )

    body = upload(client, text, account).content.decode()

    assert "2 lines rejected; nothing was imported." in body
    assert "line 3: ICCID" in body and "check digit" in body
    assert f"line 4: ICCID {iccid_for(74)} is already on line 2" in body
    assert not Endpoint.objects.exists()

    upload(
        client,
        text.replace(f"{iccid_for(74)},{imsi_for(75)}\n", ""),
        account,
        waive_check_digit="on",
    )
    assert Endpoint.objects.filter(iccid=wrong).exists()


def test_history_filters_offer_the_known_actions_without_scanning(
    client, support, fleet, django_assert_max_num_queries
):
    url = changelist("history")
    with django_assert_max_num_queries(10) as queries:
        body = client.get(url).content.decode()
    assert "?action=suspend" in body and "?action=session_start" in body
    assert not any("DISTINCT" in q["sql"] for q in queries.captured_queries)
    filtered = client.get(url, {"action": "created"}).content.decode()
    assert "0 history" not in filtered and fleet.iccid in filtered
    assert HistoryAction.CREATED.label in filtered
    assert fleet.iccid not in client.get(url, {"action": "terminate"}).content.decode()


def test_create_token_stores_only_the_hash():
    record, token = create_token("pgw-us")

    assert len(token) >= 40
    assert record.token_hash == hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    stored = NetworkToken.objects.get(name="pgw-us")
    assert stored.enabled and token not in {stored.name, stored.token_hash}
    assert create_token("pgw-eu")[1] != token


def test_endpoint_autocomplete_searches_by_iccid_digits(client, support, account):
    target = EndpointFactory(account=account, imsis=0)
    EndpointFactory(account=account, imsis=0, iccid=iccid_for(880_000))
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "term": target.iccid[-6:],
            "app_label": "inventory",
            "model_name": "imsi",
            "field_name": "endpoint",
        },
    )
    assert [row["text"] for row in response.json()["results"]] == [target.iccid]


def test_terminate_all_matching_across_pages_confirms_the_whole_count(
    client, support, account, group
):
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group) for _ in range(3)
    ]
    already = terminated(account, days=1)

    confirm = post_action(client, "terminate_selected", endpoints[:1], select_across="1")
    body = confirm.content.decode()
    assert "3 will be terminated, 1 skipped: already terminated" in body
    assert 'name="select_across" value="1"' in body

    done = post_action(
        client, "terminate_selected", endpoints[:1], select_across="1", confirm="yes"
    )
    assert "3 terminated, 1 skipped: already terminated" in done.content.decode()
    states = set(Endpoint.objects.values_list("state", flat=True))
    assert states == {State.TERMINATED}
    assert History.objects.filter(action="terminate").count() == 3
    assert not History.objects.filter(endpoint=already).exists()
