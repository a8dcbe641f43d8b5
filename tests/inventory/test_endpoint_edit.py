"""The edit screen: who may edit, what a save changes and records, and that any
invalid field saves nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.editing import Edit, EditRefused, account_tags, apply_edit
from inventory.history import Actor
from inventory.models import (
    AllocationKind,
    Endpoint,
    History,
    IPAllocation,
    SecondaryMembership,
    State,
)
from tests.factories import EndpointFactory, GroupFactory, imei_for


def edit_url(endpoint) -> str:
    return reverse("inventory:endpoint_edit", args=[endpoint.iccid])


@pytest.fixture
def endpoint(account, group):
    return EndpointFactory(
        account=account,
        state=State.ACTIVE,
        primary_group=group,
        name="car-1",
        reference="VIN-1",
        tags=["eu"],
    )


@pytest.fixture
def second(account):
    return GroupFactory(account=account, name="vantiq-media", vslice__subnet="100.65.0.0/24")


def form_data(endpoint, **overrides) -> dict:
    """What the form posts when the operator changes nothing, plus overrides."""
    data = {
        "name": endpoint.name,
        "reference": endpoint.reference,
        "tags": ", ".join(endpoint.tags),
        "imei": endpoint.imei,
        "secondary_groups": [
            str(pk)
            for pk in SecondaryMembership.objects.filter(endpoint=endpoint).values_list(
                "group_id", flat=True
            )
        ],
    }
    if endpoint.imei_lock_enabled:
        data["imei_lock_enabled"] = "on"
    for allocation in IPAllocation.objects.filter(endpoint=endpoint, kind=AllocationKind.STATIC):
        data[f"static_ip_{allocation.group_id}"] = allocation.address
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def snapshot(endpoint) -> tuple:
    """Everything an edit may change, to prove a refused one changed nothing."""
    row = Endpoint.objects.values(
        "name", "reference", "tags", "imei_lock_enabled", "imei", "state"
    ).get(pk=endpoint.pk)
    return (
        row,
        History.objects.filter(endpoint=endpoint).count(),
        sorted(
            IPAllocation.objects.filter(endpoint=endpoint).values_list(
                "group_id", "address", "kind"
            )
        ),
        sorted(
            SecondaryMembership.objects.filter(endpoint=endpoint).values_list("group_id", flat=True)
        ),
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


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    return match.group(1) if match else ""


# --- who may edit ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login(client, endpoint, method):
    before = snapshot(endpoint)
    response = getattr(client, method)(
        edit_url(endpoint), {"name": "x"} if method == "post" else None
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert snapshot(endpoint) == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_viewer_may_not_edit(client, viewer, endpoint, method):
    client.force_login(viewer)
    before = snapshot(endpoint)
    response = getattr(client, method)(edit_url(endpoint), form_data(endpoint, name="changed"))
    assert response.status_code == 403
    assert b"Your role in this account is read-only." in response.content
    assert snapshot(endpoint) == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_accounts_endpoint_is_not_found(client, operator, other_account, method):
    foreign = EndpointFactory(account=other_account, name="theirs")
    client.force_login(operator)
    before = snapshot(foreign)
    response = getattr(client, method)(edit_url(foreign), form_data(foreign, name="mine now"))
    assert response.status_code == 404
    assert b"theirs" not in response.content
    assert snapshot(foreign) == before


@pytest.mark.django_db
def test_post_without_csrf_token_is_refused(operator, endpoint):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    before = snapshot(endpoint)
    response = client.post(edit_url(endpoint), form_data(endpoint, name="forged"))
    assert response.status_code == 403
    assert snapshot(endpoint) == before


@pytest.mark.django_db
def test_terminated_endpoint_cannot_be_edited(client, admin_member, account):
    endpoint = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at=timezone.now(), name="gone"
    )
    client.force_login(admin_member)

    page = client.get(edit_url(endpoint))
    before = snapshot(endpoint)
    post = client.post(edit_url(endpoint), form_data(endpoint, name="back again"))

    assert page.status_code == 200
    assert b"A terminated endpoint cannot be edited." in page.content
    assert b'<form method="post" action="' + edit_url(endpoint).encode() not in page.content
    assert post.status_code == 409
    assert b"A terminated endpoint cannot be edited." in post.content
    assert snapshot(endpoint) == before


# --- the form -----------------------------------------------------------------


@pytest.mark.django_db
def test_form_shows_current_values_with_labels(
    client, operator, account, other_account, endpoint, group, second
):
    allocate(endpoint, group, "100.64.0.20", AllocationKind.STATIC)
    EndpointFactory(account=account, tags=["fleet-b", "eu"])
    EndpointFactory(account=other_account, tags=["northwind-secret"])
    client.force_login(operator)

    html = client.get(edit_url(endpoint)).content.decode()

    assert 'value="car-1"' in html and 'value="VIN-1"' in html
    assert f'name="static_ip_{group.pk}"' in html and 'value="100.64.0.20"' in html
    assert "vantiq-media (APN" in html
    assert f'value="{group.pk}"' not in html  # the primary group is no secondary choice
    datalist = html.split('<datalist id="account-tags">')[1].split("</datalist>")[0]
    assert '<option value="eu">' in datalist and '<option value="fleet-b">' in datalist
    assert "northwind-secret" not in html
    ids = re.findall(r'<input[^>]* id="([^"]+)"', html)
    assert len(ids) >= 6
    for input_id in ids:
        assert f'<label class="form-label" for="{input_id}"' in html or (
            f'<label class="form-check-label" for="{input_id}"' in html
        ), input_id


@pytest.mark.django_db
def test_edit_page_query_count_is_constant(
    client, operator, account, endpoint, django_assert_max_num_queries
):
    client.force_login(operator)
    with django_assert_max_num_queries(9):
        assert client.get(edit_url(endpoint)).status_code == 200
    for n in range(5):
        group = GroupFactory(account=account)
        SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=group)
        allocate(endpoint, group, group.vslice.subnet.replace("0.0/16", f"0.{n + 2}"))
    with django_assert_max_num_queries(9):
        html = client.get(edit_url(endpoint)).content.decode()
    assert html.count('name="static_ip_') == 6


# --- saving -------------------------------------------------------------------


@pytest.mark.django_db
def test_save_changes_fields_and_records_one_history_row(client, operator, endpoint):
    client.force_login(operator)
    imei = imei_for(42)

    response = client.post(
        edit_url(endpoint),
        form_data(
            endpoint,
            name="car-1 renamed",
            reference="VIN-2",
            tags="EU fleet-a,  fleet-a",
            imei_lock_enabled="on",
            imei=imei,
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:endpoint_detail", args=[endpoint.iccid])
    endpoint.refresh_from_db()
    assert endpoint.name == "car-1 renamed"
    assert endpoint.reference == "VIN-2"
    assert endpoint.tags == ["eu", "fleet-a"]
    assert endpoint.imei_lock_enabled is True and endpoint.imei == imei
    (entry,) = History.objects.filter(endpoint=endpoint)
    assert entry.action == "edited"
    assert entry.actor_label == "op" and entry.actor_kind == "user"
    assert entry.changes == {
        "name": ["car-1", "car-1 renamed"],
        "reference": ["VIN-1", "VIN-2"],
        "tags": [["eu"], ["eu", "fleet-a"]],
        "imei_lock_enabled": [False, True],
        "imei": ["", imei],
    }
    page = client.get(response["Location"]).content.decode()
    assert f"Endpoint {endpoint.iccid} saved." in page


@pytest.mark.django_db
def test_saving_unchanged_form_records_nothing(client, operator, endpoint):
    client.force_login(operator)
    response = client.post(edit_url(endpoint), form_data(endpoint), follow=True)
    assert "Nothing changed." in response.content.decode()
    assert not History.objects.filter(endpoint=endpoint).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"imei": "35000000000000"}, "imei", "Enter a 15-digit IMEI or a 16-digit IMEISV"),
        ({"imei": "350000000000001"}, "imei", "check digit"),
        ({"imei": "35abc"}, "imei", "An IMEI has digits only."),
        ({"imei_lock_enabled": "on", "imei": ""}, "imei", "Enter the IMEI to lock"),
        ({"tags": "ok, not/valid"}, "tags", "is not a valid tag"),
        ({"tags": " ".join(f"t{n}" for n in range(21))}, "tags", "at most 20 tags"),
        ({"name": "n" * 101}, "name", "at most 100 characters"),
    ],
)
def test_invalid_field_saves_nothing(client, operator, endpoint, overrides, field, message):
    client.force_login(operator)
    before = snapshot(endpoint)

    response = client.post(edit_url(endpoint), form_data(endpoint, reference="NEW", **overrides))

    assert response.status_code == 200
    html = response.content.decode()
    assert message in field_error(html, field)
    assert "Nothing was saved." in html
    assert snapshot(endpoint) == before


# --- static addresses ---------------------------------------------------------


@pytest.mark.django_db
def test_static_ip_is_reserved(client, operator, endpoint, group):
    allocate(endpoint, group, "100.64.0.9")
    client.force_login(operator)

    response = client.post(
        edit_url(endpoint), form_data(endpoint, **{f"static_ip_{group.pk}": "100.64.3.4"})
    )

    assert response.status_code == 302
    (allocation,) = IPAllocation.objects.filter(endpoint=endpoint)
    assert (allocation.group_id, allocation.address, allocation.kind) == (
        group.pk,
        "100.64.3.4",
        AllocationKind.STATIC,
    )
    assert History.objects.filter(endpoint=endpoint, action="static_ip").count() == 1
    assert not History.objects.filter(endpoint=endpoint, action="edited").exists()


@pytest.mark.django_db
def test_blank_static_ip_returns_to_automatic(client, operator, endpoint, group):
    allocate(endpoint, group, "100.64.0.20", AllocationKind.STATIC)
    client.force_login(operator)

    response = client.post(edit_url(endpoint), form_data(endpoint, **{f"static_ip_{group.pk}": ""}))

    assert response.status_code == 302
    assert not IPAllocation.objects.filter(endpoint=endpoint).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("10.1.2.3", "is outside the subnet 100.64.0.0/16"),
        ("100.64.0.0", "is the network address"),
        ("100.64.255.255", "is the broadcast address"),
        ("100.64.01.2", "is not an IPv4 address"),
        ("not an ip", "is not an IPv4 address"),
    ],
)
def test_bad_static_ip_is_refused_inline(client, operator, endpoint, group, address, message):
    client.force_login(operator)
    before = snapshot(endpoint)

    response = client.post(
        edit_url(endpoint),
        form_data(endpoint, name="also not saved", **{f"static_ip_{group.pk}": address}),
    )

    assert message in field_error(response.content.decode(), f"static_ip_{group.pk}")
    assert snapshot(endpoint) == before


@pytest.mark.django_db
def test_static_ip_held_by_another_endpoint_is_refused(client, operator, account, endpoint, group):
    holder = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    allocate(holder, group, "100.64.7.7", AllocationKind.STATIC)
    client.force_login(operator)
    before = snapshot(endpoint)

    response = client.post(
        edit_url(endpoint),
        form_data(endpoint, name="not saved", **{f"static_ip_{group.pk}": "100.64.7.7"}),
    )

    error = field_error(response.content.decode(), f"static_ip_{group.pk}")
    assert f"100.64.7.7 is already held by endpoint {holder.iccid}" in error
    assert snapshot(endpoint) == before
    assert IPAllocation.objects.get(address="100.64.7.7").endpoint_id == holder.pk


@pytest.mark.django_db
def test_every_bad_address_gets_its_message(client, operator, account, endpoint, group, second):
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=second)
    holder = EndpointFactory(account=account, state=State.ACTIVE, primary_group=second)
    allocate(holder, second, "100.65.0.9", AllocationKind.STATIC)
    client.force_login(operator)
    before = snapshot(endpoint)

    response = client.post(
        edit_url(endpoint),
        form_data(
            endpoint,
            **{f"static_ip_{group.pk}": "100.64.1.1", f"static_ip_{second.pk}": "100.65.0.9"},
        ),
    )

    html = response.content.decode()
    assert "already held by endpoint" in field_error(html, f"static_ip_{second.pk}")
    assert field_error(html, f"static_ip_{group.pk}") == ""
    assert snapshot(endpoint) == before  # the good address is not reserved either


# --- secondary groups -----------------------------------------------------------


@pytest.mark.django_db
def test_secondary_group_is_added(client, operator, endpoint, second):
    client.force_login(operator)
    response = client.post(edit_url(endpoint), form_data(endpoint, secondary_groups=[second.pk]))
    assert response.status_code == 302
    assert list(
        SecondaryMembership.objects.filter(endpoint=endpoint).values_list("group_id", flat=True)
    ) == [second.pk]
    entry = History.objects.get(endpoint=endpoint, action="edited")
    assert entry.changes == {"secondary_groups": [[], ["vantiq-media"]]}


@pytest.mark.django_db
def test_removing_a_secondary_group_releases_its_address(
    client, operator, account, endpoint, group, second
):
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=second)
    allocate(endpoint, second, "100.65.0.5", AllocationKind.STATIC)
    allocate(endpoint, group, "100.64.0.5")
    client.force_login(operator)

    response = client.post(
        edit_url(endpoint),
        form_data(endpoint, secondary_groups=[], **{f"static_ip_{second.pk}": "100.65.0.5"}),
    )

    assert response.status_code == 302
    assert not SecondaryMembership.objects.filter(endpoint=endpoint).exists()
    assert list(
        IPAllocation.objects.filter(endpoint=endpoint).values_list("address", flat=True)
    ) == ["100.64.0.5"]
    entry = History.objects.get(endpoint=endpoint, action="edited")
    assert entry.changes == {
        "secondary_groups": [["vantiq-media"], []],
        "ip": {"vantiq-media": ["100.65.0.5", None]},
    }
    history = client.get(reverse("inventory:endpoint_history", args=[endpoint.iccid]))
    assert "IP address in vantiq-media" in history.content.decode()


@pytest.mark.django_db
def test_other_accounts_group_is_a_form_error(client, operator, other_account, endpoint):
    foreign = GroupFactory(account=other_account)
    client.force_login(operator)
    before = snapshot(endpoint)

    response = client.post(edit_url(endpoint), form_data(endpoint, secondary_groups=[foreign.pk]))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert snapshot(endpoint) == before
    assert not SecondaryMembership.objects.filter(group=foreign).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["primary", "abc", "99999999"])
def test_bad_secondary_group_values_are_form_errors(client, operator, endpoint, group, value):
    client.force_login(operator)
    before = snapshot(endpoint)
    posted = str(group.pk) if value == "primary" else value
    response = client.post(edit_url(endpoint), form_data(endpoint, secondary_groups=[posted]))
    assert response.status_code == 200
    assert "Nothing was saved." in response.content.decode()
    assert snapshot(endpoint) == before


@pytest.mark.django_db
def test_pending_endpoint_cannot_get_secondary_groups(client, operator, account, second):
    endpoint = EndpointFactory(account=account, name="p")
    client.force_login(operator)
    before = snapshot(endpoint)
    response = client.post(edit_url(endpoint), form_data(endpoint, secondary_groups=[second.pk]))
    assert "Assign the endpoint to a primary group before" in response.content.decode()
    assert snapshot(endpoint) == before


# --- the rule under concurrent changes ---------------------------------------------


def _edit(endpoint, **overrides) -> Edit:
    values = {
        "name": endpoint.name,
        "reference": endpoint.reference,
        "tags": list(endpoint.tags),
        "imei_lock_enabled": endpoint.imei_lock_enabled,
        "imei": endpoint.imei,
        "secondary_groups": [],
    }
    values.update(overrides)
    return Edit(**values)


@pytest.mark.django_db
def test_history_holds_the_value_this_save_replaced(operator, endpoint):
    stale = Endpoint.objects.get(pk=endpoint.pk)  # the form was loaded with "car-1"
    Endpoint.objects.filter(pk=endpoint.pk).update(name="renamed meanwhile")

    result = apply_edit(
        endpoint=stale, edit=_edit(stale, name="mine"), actor=Actor.for_user(operator)
    )

    assert result.changes == {"name": ["renamed meanwhile", "mine"]}
    assert History.objects.get(endpoint=endpoint).changes == {"name": ["renamed meanwhile", "mine"]}


@pytest.mark.django_db
def test_endpoint_terminated_after_the_form_was_loaded_is_not_edited(operator, endpoint):
    stale = Endpoint.objects.get(pk=endpoint.pk)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        state=State.TERMINATED, terminated_at=timezone.now()
    )
    before = snapshot(endpoint)

    with pytest.raises(EditRefused) as refused:
        apply_edit(endpoint=stale, edit=_edit(stale, name="late"), actor=Actor.for_user(operator))

    assert refused.value.errors == {None: ["A terminated endpoint cannot be edited."]}
    assert snapshot(endpoint) == before


@pytest.mark.django_db
def test_tag_suggestions_are_the_accounts_and_bounded(account, other_account):
    EndpointFactory(account=account, tags=["b-tag", "a-tag"])
    EndpointFactory(account=account, tags=[])
    EndpointFactory(account=account, tags=["c-tag", "a-tag"])
    EndpointFactory(account=other_account, tags=["theirs"])

    assert account_tags(account_id=account.pk) == ["a-tag", "b-tag", "c-tag"]
    assert account_tags(account_id=account.pk, limit=2) == ["a-tag", "b-tag"]
    assert len(account_tags(account_id=account.pk, sample=1)) == 2  # one endpoint read


@pytest.mark.django_db
def test_one_save_writes_one_history_row_with_the_address_in_it(client, operator, endpoint, group):
    allocate(endpoint, group, "100.64.0.9")
    client.force_login(operator)

    response = client.post(
        edit_url(endpoint),
        form_data(endpoint, name="Crane 4", **{f"static_ip_{group.pk}": "100.64.3.4"}),
    )

    assert response.status_code == 302
    (entry,) = History.objects.filter(endpoint=endpoint)
    assert entry.action == "edited"
    assert entry.changes["name"][1] == "Crane 4"
    assert entry.changes["ip"] == {group.name: [None, "100.64.3.4"]}  # was automatic
