"""The identifier rules live on the model fields: full_clean() and every
ModelForm (the admin's included) refuse a bad ICCID, IMSI or IMEI with the
rule's own message; only the staff import may waive the ICCID check digit."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inventory.history import Actor
from inventory.models import IMSI, Endpoint, History
from inventory.sim_import import ImportRejected, import_sims
from tests.factories import EndpointFactory, UserFactory, iccid_for, imei_for, imsi_for

pytestmark = pytest.mark.django_db

GOOD_ICCID = iccid_for(1)
BAD_ICCIDS = [
    ("89440000000000000a1", "An ICCID has digits only."),
    (GOOD_ICCID[:-1] + str((int(GOOD_ICCID[-1]) + 1) % 10), "check digit (its last digit)"),
    ("1944000000000000005", "An ICCID starts with 89."),
    ("894400000000001", "An ICCID has 19 or 20 digits; this one has 15."),
]
BAD_IMSIS = [
    ("23415000000000x", "An IMSI has digits only."),
    ("234150000", "An IMSI has 14 or 15 digits; this one has 9."),
]
BAD_IMEIS = [
    ("35000000000000x", "An IMEI has digits only."),
    (imei_for(7)[:14] + str((int(imei_for(7)[14]) + 1) % 10), "The IMEI's check digit"),
    ("3500000000", "Enter a 15-digit IMEI or a 16-digit IMEISV; this one has 10 digits."),
]


def refusal(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        instance.full_clean()
    return refused.value.message_dict


@pytest.mark.parametrize(("iccid", "message"), BAD_ICCIDS)
def test_full_clean_refuses_a_bad_iccid_with_the_rules_message(account, iccid, message):
    errors = refusal(Endpoint(account=account, iccid=iccid))
    assert list(errors) == ["iccid"]  # the field's message, not a violated constraint
    assert message in errors["iccid"][0]


@pytest.mark.parametrize(("imsi", "message"), BAD_IMSIS)
def test_full_clean_refuses_a_bad_imsi_with_the_rules_message(account, imsi, message):
    endpoint = EndpointFactory(account=account, imsis=0)
    errors = refusal(IMSI(account=account, endpoint=endpoint, imsi=imsi))
    assert errors == {"imsi": [message]}


@pytest.mark.parametrize(("imei", "message"), BAD_IMEIS)
def test_full_clean_refuses_a_bad_imei_with_the_rules_message(account, imei, message):
    errors = refusal(Endpoint(account=account, iccid=GOOD_ICCID, imei=imei))
    assert list(errors) == ["imei"]
    assert message in errors["imei"][0]


def test_full_clean_accepts_valid_identifiers_and_no_imei(account):
    Endpoint(account=account, iccid=GOOD_ICCID).full_clean()
    Endpoint(account=account, iccid=iccid_for(2), imei=imei_for(2)).full_clean()
    Endpoint(account=account, iccid=iccid_for(3), imei=imei_for(3)[:14] + "07").full_clean()
    endpoint = EndpointFactory(account=account, imsis=0)
    IMSI(account=account, endpoint=endpoint, imsi=imsi_for(1)).full_clean()
    IMSI(account=account, endpoint=endpoint, imsi=imsi_for(2)[:14]).full_clean()


# -- the admin's forms ------------------------------------------------------------


@pytest.fixture
def support(client):
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))


def add_endpoint(client, account, *, iccid=GOOD_ICCID, imsi=None, imei=""):
    return client.post(
        reverse("admin:inventory_endpoint_add"),
        {
            "account": account.pk,
            "iccid": iccid,
            "name": "",
            "reference": "",
            "tags": "",
            "imei": imei,
            "imsis-TOTAL_FORMS": "1",
            "imsis-INITIAL_FORMS": "0",
            "imsis-MIN_NUM_FORMS": "1",
            "imsis-MAX_NUM_FORMS": "1000",
            "imsis-0-imsi": imsi or imsi_for(1),
        },
    )


def page_text(response) -> str:
    return response.content.decode().replace("&#x27;", "'")


@pytest.mark.parametrize(("iccid", "message"), BAD_ICCIDS)
def test_the_admin_add_form_refuses_a_bad_iccid(client, support, account, iccid, message):
    response = add_endpoint(client, account, iccid=iccid)
    assert response.status_code == 200
    assert message in page_text(response)
    assert not Endpoint.objects.exists() and not IMSI.objects.exists()


@pytest.mark.parametrize(("imei", "message"), BAD_IMEIS)
def test_the_admin_add_form_refuses_a_bad_imei(client, support, account, imei, message):
    response = add_endpoint(client, account, imei=imei)
    assert message in page_text(response)
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(("imsi", "message"), BAD_IMSIS)
def test_the_admin_add_forms_refuse_a_bad_imsi(client, support, account, imsi, message):
    inline = add_endpoint(client, account, imsi=imsi)
    assert message in page_text(inline)
    assert not Endpoint.objects.exists()

    endpoint = EndpointFactory(account=account, imsis=0)
    response = client.post(
        reverse("admin:inventory_imsi_add"), {"endpoint": endpoint.pk, "imsi": imsi}
    )
    assert response.status_code == 200
    assert message in page_text(response)
    assert not IMSI.objects.exists()


def test_the_admin_add_form_still_saves_a_valid_endpoint(client, support, account):
    response = add_endpoint(client, account, imei=imei_for(5))
    assert response.status_code == 302
    endpoint = Endpoint.objects.get(iccid=GOOD_ICCID)
    assert (endpoint.imei, endpoint.imsis.get().imsi) == (imei_for(5), imsi_for(1))


# -- the import's waiver -----------------------------------------------------------


def test_the_import_may_waive_the_check_digit_and_its_endpoint_stays_editable(
    client, support, account
):
    wrong = BAD_ICCIDS[1][0]
    csv = f"iccid,imsis\n{wrong},{imsi_for(9)}\n"
    with pytest.raises(ImportRejected, match="1 line"):
        import_sims(io.StringIO(csv), account=account, actor=Actor.SYSTEM)
    assert not Endpoint.objects.exists()

    import_sims(io.StringIO(csv), account=account, actor=Actor.SYSTEM, waive_check_digit=True)

    endpoint = Endpoint.objects.get(iccid=wrong)
    imsi = endpoint.imsis.get()
    # The ICCID is read-only once created, so support can still edit the rest.
    response = client.post(
        reverse("admin:inventory_endpoint_change", args=[endpoint.pk]),
        {
            "name": "Supplier batch 7",
            "reference": "",
            "tags": "",
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
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.name == "Supplier batch 7"
    assert History.objects.filter(endpoint=endpoint, action="edited").exists()
