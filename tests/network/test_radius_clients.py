"""RADIUS clients: the command and the admin that add them, and their secrets,
stored encrypted and never shown again."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from network.models import RadiusClient
from network.radius import secrets
from network.radius.clients import ClientTable, load
from tests.factories import UserFactory

ADD = "/admin/network/radiusclient/add/"


def change_url(nas: RadiusClient) -> str:
    return f"/admin/network/radiusclient/{nas.pk}/change/"


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_the_command_prints_a_generated_secret_last_and_stores_it_encrypted():
    out = StringIO()
    call_command("create_radius_client", "pgw-eu-1", "--address", "10.20.0.5", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    nas = RadiusClient.objects.get(name="pgw-eu-1")
    assert nas.address == "10.20.0.5/32" and nas.coa_port == 3799
    assert nas.require_message_authenticator
    assert len(secret) == 32 and secret not in nas.secret_encrypted
    assert nas.secret == secret.encode()


@pytest.mark.django_db
def test_the_command_takes_a_secret_and_port_and_refuses_bad_input():
    out = StringIO()
    call_command(
        "create_radius_client",
        "pgw-2",
        "--address",
        "10.30.0.0/24",
        "--secret",
        "a-secret-of-20-chars",
        "--coa-port",
        "3800",
        stdout=out,
    )
    assert out.getvalue().splitlines()[-1] == "a-secret-of-20-chars"
    assert RadiusClient.objects.get(name="pgw-2").coa_port == 3800
    for args, message in [
        (["pgw-3", "--address", "10.30.0.1/24"], "host bits zero"),
        (["pgw-3", "--address", "not-an-ip"], "is not a network"),
        (["pgw-3", "--address", "10.40.0.1", "--secret", "short"], "16 to 64"),
        (["pgw-3", "--address", "10.40.0.1", "--coa-port", "70000"], "between 1 and 65535"),
        (["pgw-2", "--address", "10.40.0.1"], "exists already"),
        (["pgw-3", "--address", "10.30.0.0/24"], "exists already"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("create_radius_client", *args, stdout=StringIO())
    assert RadiusClient.objects.count() == 1


@pytest.mark.django_db
def test_a_secret_is_unreadable_under_another_key(settings):
    nas = RadiusClient(name="pgw", address="10.0.0.1/32")
    nas.set_secret("the-original-secret")
    nas.save()
    settings.RADIUS_SECRET_KEY = "another key altogether"
    with pytest.raises(secrets.SecretUnreadable):
        _ = RadiusClient.objects.get().secret
    # The server leaves such a client out rather than answering with garbage.
    assert load() == []


@pytest.mark.django_db
def test_the_most_specific_network_matches():
    for name, address in [("wide", "10.0.0.0/8"), ("narrow", "10.1.2.0/24")]:
        nas = RadiusClient(name=name, address=address)
        nas.set_secret("0123456789abcdef")
        nas.save()
    table = ClientTable(load())
    assert table.match("10.1.2.3").name == "narrow"
    assert table.match("10.9.9.9").name == "wide"
    assert table.match("192.0.2.1") is None
    assert table.match("::ffff:10.1.2.3").name == "narrow"


@pytest.mark.django_db
def test_staff_add_a_client_in_the_admin_and_see_a_generated_secret_once(staff_client):
    response = staff_client.post(
        ADD,
        {
            "name": "pgw-admin",
            "address": "10.50.0.0/30",
            "secret": "",
            "coa_port": "3799",
            "require_message_authenticator": "on",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    nas = RadiusClient.objects.get(name="pgw-admin")
    secret = nas.secret.decode()
    # Shown in the message on the page after saving, and never again.
    first = staff_client.get(change_url(nas)).content.decode()
    assert f"{secret} — copy it into the NAS now, it is not shown again" in first
    page = staff_client.get(change_url(nas)).content.decode()
    assert secret not in page and nas.secret_encrypted not in page


@pytest.mark.django_db
def test_a_blank_secret_keeps_the_old_one_and_a_typed_one_replaces_it(staff_client):
    nas = RadiusClient(name="pgw", address="10.60.0.1/32")
    nas.set_secret("the-original-secret")
    nas.save()
    form = {"name": "pgw", "address": "10.60.0.1/32", "coa_port": "3799", "enabled": "on"}
    assert staff_client.post(change_url(nas), {**form, "secret": ""}).status_code == 302
    nas.refresh_from_db()
    assert nas.secret == b"the-original-secret" and not nas.require_message_authenticator

    refused = staff_client.post(change_url(nas), {**form, "secret": "short"})
    assert refused.status_code == 200 and "16–64 printable characters" in refused.content.decode()
    nas.refresh_from_db()
    assert nas.secret == b"the-original-secret"

    assert staff_client.post(change_url(nas), {**form, "secret": "a-new-secret-typed-in"})
    nas.refresh_from_db()
    assert nas.secret == b"a-new-secret-typed-in"
