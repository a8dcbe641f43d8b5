"""The delivery log records a fixed error class and the HTTP status, never the
peer's bytes: a service that is not HTTP (here a message broker's banner) shows
up as "invalid_http_response" on the webhook's page, in the API and in the
Django admin, and nowhere its banner. Each class is made by a real peer on
127.0.0.1."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.urls import reverse

from events.models import AccountEvent, EventType
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import State
from tests.factories import EndpointFactory
from tests.webhooks.conftest import add_webhook, run_queue
from tests.webhooks.raw_peer import RawPeer
from webhooks import errors, sending
from webhooks.models import Attempt, Webhook

BANNER = (
    b'INFO {"server_id":"NDJWE4SECRETBANNER","version":"2.10.7","go":"go1.21.5",'
    b'"host":"10.1.2.3","port":4222,"auth_required":true}\r\n'
)
SECRETS = ("NDJWE4SECRETBANNER", "server_id", "auth_required", "10.1.2.3", "INFO")


def send(url: str) -> sending.Result:
    event = AccountEvent(pk=1, type=EventType.TEST, payload={"version": 1})
    connection = sending.Connection(url)
    try:
        return connection.send(secret="whsec_" + "A" * 32, event=event)
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("peer", "error", "status"),
    [
        (RawPeer(greeting=BANNER), "invalid_http_response", None),
        (RawPeer(b"SSH-2.0-OpenSSH_9.6\r\n"), "invalid_http_response", None),
        (RawPeer(b"HTTP/1.1 200\x00OK\r\n\r\n"), "invalid_http_response", None),
        (RawPeer(b""), "connection_reset", None),  # closes without answering
        (RawPeer(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"), "too_large", None),
        (RawPeer(b"HTTP/1.1 200 OK\r\n" + b"X: a\r\n" * 101 + b"\r\n"), "too_large", None),
        (RawPeer(b"HTTP/1.1 503 Not now\r\nContent-Length: 0\r\n\r\n"), "http_status", 503),
        (
            RawPeer(b"HTTP/1.1 301 Gone\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"),
            "redirect",
            301,
        ),
    ],
    ids=["banner", "ssh", "nul", "closed", "long-header", "many-headers", "503", "301"],
)
def test_each_failure_is_a_class_and_a_status(settings, peer, error, status):
    settings.WEBHOOK_ALLOWED_NETWORKS = "127.0.0.0/8"
    peer.start()
    try:
        result = send(peer.url)
    finally:
        peer.stop()
    assert (result.ok, result.error, result.status_code) == (False, error, status)
    assert error in errors.ErrorClass.values


def test_refused_and_silent_peers(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = "127.0.0.0/8"
    assert send(f"http://127.0.0.1:{free_port()}/in").error == "connection_refused"
    silent = RawPeer(b"", interval=60.0).start()  # reads the request, never answers
    settings.WEBHOOK_ATTEMPT_SECONDS = 0.5
    try:
        assert send(silent.url).error == "timeout"
    finally:
        silent.stop()
    settings.WEBHOOK_ALLOWED_NETWORKS = ""
    assert send(f"http://127.0.0.1:{free_port()}/in").error == "address_refused"
    assert send("https://no-such-host.invalid/in").error == "dns_failure"


@pytest.mark.django_db(transaction=True)
def test_a_banner_never_reaches_the_page_the_api_or_the_admin(
    account, group, client, admin_member, settings
):
    from portal.models import Role
    from tests.api.conftest import ApiClient, make_token

    settings.WEBHOOK_DISABLE_AFTER = timedelta(0)
    peer = RawPeer(greeting=BANNER).start()
    try:
        webhook = add_webhook(account, peer)
        endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
        lifecycle.suspend(endpoints=account.endpoints.filter(pk=endpoint.pk), actor=Actor.SYSTEM)
        run_queue()
    finally:
        peer.stop()

    attempt = Attempt.objects.get()
    assert (attempt.ok, attempt.status_code, attempt.error) == (
        False,
        None,
        "invalid_http_response",
    )
    webhook = Webhook.objects.get(pk=webhook.pk)
    assert not webhook.enabled
    assert webhook.disabled_reason.endswith("Last error: The answer was not valid HTTP")

    client.force_login(admin_member)
    page = client.get(reverse("webhooks:webhook_detail", args=[webhook.pk])).content.decode()
    assert "The answer was not valid HTTP" in page
    api = ApiClient(make_token(account, Role.ADMIN)[1])
    answer = api.get(f"/api/v1/webhooks/{webhook.pk}").content.decode()
    assert "The answer was not valid HTTP" in answer
    admin_member.is_staff = admin_member.is_superuser = True
    admin_member.save()
    client.force_login(admin_member)
    admin_page = client.get(
        reverse("admin:webhooks_attempt_change", args=[attempt.pk])
    ).content.decode()
    assert "The answer was not valid HTTP" in admin_page
    for shown in (page, answer, admin_page, attempt.error, webhook.disabled_reason):
        for secret in SECRETS:
            assert secret not in shown


@pytest.mark.django_db
def test_attempts_logged_before_classes_lose_the_peers_bytes(account, receiver):
    """Migration 0003 rewrites the free text older attempts and reasons held."""
    import importlib

    from django.db import connection

    migration = importlib.import_module("webhooks.migrations.0003_attempt_error_classes")
    webhook = add_webhook(account, receiver)
    event = AccountEvent.objects.create(account=account, type=EventType.TEST, payload={})
    legacy = {
        "HTTP 302: redirects are not followed": "redirect",
        "HTTP 500": "http_status",
        "No answer within 5 s": "timeout",
        "Connection refused": "connection_refused",
        "TLS error: CERTIFICATE_VERIFY_FAILED": "tls_error",
        "The host x.example cannot be resolved.": "dns_failure",
        "x.example is or resolves to 10.0.0.1, a private address: refused.": "address_refused",
        "BadStatusLine: " + BANNER.decode(): "unclassified",
        "timeout": "timeout",  # already a class
        "": "",
    }
    for text in legacy:
        Attempt.objects.create(webhook=webhook, event=event, kind="delivery", error=text)
    other = add_webhook(account, receiver)
    Webhook.objects.filter(pk=webhook.pk).update(
        enabled=False, disabled_reason="Disabled …. Last error: BadStatusLine: INFO {…}"
    )
    Webhook.objects.filter(pk=other.pk).update(
        enabled=False, disabled_reason="Disabled …. Last error: HTTP 503"
    )
    with connection.cursor() as cursor:
        cursor.execute(migration.FORWARD)
    assert sorted(Attempt.objects.values_list("error", flat=True)) == sorted(legacy.values())
    assert Webhook.objects.get(pk=webhook.pk).disabled_reason == (
        "Disabled …. Last error: (no detail kept)"
    )
    assert Webhook.objects.get(pk=other.pk).disabled_reason == "Disabled …. Last error: HTTP 503"
