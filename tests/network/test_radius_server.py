"""The RADIUS server as a gateway sees it: ``manage.py radius`` in its own
process against the test database, asked by FreeRADIUS's radclient with its own
dictionaries (dictionary.3gpp). Decisions, usage and events are checked in the
database the portal reads."""

from __future__ import annotations

import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from pyrad import packet as rp

from inventory.models import History, HistoryAction, NetworkEvent, State
from network.models import RadiusClient, RadiusSession
from network.radius.packets import DICTIONARY
from tests.factories import EndpointFactory, GroupFactory, imei_for
from tests.network.radius_peers import SECRET, RadiusProcess, radclient
from usage.models import EndpointDailyUsage
from usage.templatetags.usage_format import bytes_ as human_bytes

GIGAWORD = 2**32
APN = "iot.vantiq.example"


def add_client(address="127.0.0.1/32", **fields) -> RadiusClient:
    client = RadiusClient(name=f"pgw-{address}", address=address, **fields)
    client.set_secret(SECRET)
    client.save()
    return client


@pytest.fixture
def nas(transactional_db) -> RadiusClient:
    """The gateway's client row (radclient sends from 127.0.0.1)."""
    return add_client()


@pytest.fixture
def radius(nas, tmp_path):
    server = RadiusProcess(tmp_path / "radius.log")
    yield server
    server.stop()


@pytest.fixture
def fleet(transactional_db, account):
    """A group with an APN and endpoints in the states the tests ask about."""
    group = GroupFactory(account=account, name="fleet", apn=APN, vslice__subnet="100.64.0.0/16")
    return {
        "group": group,
        "idle": EndpointFactory(account=account, state=State.IDLE, primary_group=group),
        "suspended": EndpointFactory(account=account, state=State.SUSPENDED, primary_group=group),
        "locked": EndpointFactory(
            account=account,
            state=State.IDLE,
            primary_group=group,
            imei_lock_enabled=True,
            imei=imei_for(1),
        ),
    }


def imsi_of(endpoint) -> str:
    return endpoint.imsis.first().imsi


def access(imsi: str, *extra: str) -> list[str]:
    return [
        f'User-Name = "{imsi}"',
        f'3GPP-IMSI = "{imsi}"',
        f'Called-Station-Id = "{APN}"',
        '3GPP-SGSN-MCC-MNC = "23415"',
        "3GPP-RAT-Type = EUTRAN",
        *extra,
    ]


def accounting(imsi: str, status: str, session: str, *extra: str) -> list[str]:
    return [
        f'User-Name = "{imsi}"',
        f'3GPP-IMSI = "{imsi}"',
        f"Acct-Status-Type = {status}",
        f'Acct-Session-Id = "{session}"',
        *extra,
    ]


@pytest.mark.django_db(transaction=True)
def test_access_requests_are_decided_like_network_events(fleet, radius):
    idle, suspended, locked = fleet["idle"], fleet["suspended"], fleet["locked"]

    accept = radclient(radius.auth_port, "auth", access(imsi_of(idle)))
    assert accept is not None and accept.code == "Access-Accept"
    assert accept.get("Framed-IP-Address") == "100.64.0.1"
    assert accept.get("Acct-Interim-Interval") == "600"
    assert accept.get("Message-Authenticator")  # BlastRADIUS: every answer is signed
    idle.refresh_from_db()
    assert idle.state == State.ACTIVE
    started = History.objects.get(endpoint=idle, action=HistoryAction.SESSION_START)
    assert started.changes["ip"] == [None, "100.64.0.1"]

    # The same address next time: it is the endpoint's in that group.
    again = radclient(radius.auth_port, "auth", access(imsi_of(idle)))
    assert again.code == "Access-Accept" and again.get("Framed-IP-Address") == "100.64.0.1"

    refused = radclient(radius.auth_port, "auth", access(imsi_of(suspended)))
    assert refused.code == "Access-Reject" and refused.get("Reply-Message") == "suspended"

    wrong_imei = radclient(
        radius.auth_port, "auth", access(imsi_of(locked), f'3GPP-IMEISV = "{imei_for(2)[:14]}01"')
    )
    assert wrong_imei.code == "Access-Reject"
    assert wrong_imei.get("Reply-Message") == "imei_mismatch"
    right_imei = radclient(
        radius.auth_port, "auth", access(imsi_of(locked), f'3GPP-IMEISV = "{imei_for(1)[:14]}07"')
    )
    assert right_imei.code == "Access-Accept"

    unknown = radclient(radius.auth_port, "auth", access("001019999999999"))
    assert unknown.code == "Access-Reject" and unknown.get("Reply-Message") == "unknown_imsi"

    # A 15-digit User-Name names the endpoint when there is no 3GPP-IMSI.
    by_user_name = radclient(
        radius.auth_port, "auth", [f'User-Name = "{imsi_of(idle)}"', f'Called-Station-Id = "{APN}"']
    )
    assert by_user_name.code == "Access-Accept"

    # Every decision is a network event like the JSON API's, rejections recorded.
    events = NetworkEvent.objects.filter(event_id__startswith="radius-")
    assert events.filter(status="accepted", type="session_start").count() == 4
    assert sorted(events.filter(status="rejected").values_list("reason", flat=True)) == [
        "imei_mismatch",
        "suspended",
        "unknown_imsi",
    ]
    assert History.objects.filter(
        endpoint=suspended, action=HistoryAction.SESSION_REJECTED, reason="suspended"
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_accounting_counts_exactly_the_octets_sent_once(fleet, radius, client, admin_member):
    idle = fleet["idle"]
    imsi = imsi_of(idle)
    session = "5f2a0001"

    def send(status, *extra):
        answer = radclient(radius.acct_port, "acct", accounting(imsi, status, session, *extra))
        assert answer is not None and answer.code == "Accounting-Response", status
        return answer

    send("Start", "Framed-IP-Address = 100.64.0.9")
    idle.refresh_from_db()
    assert idle.state == State.ACTIVE
    interim = [
        "Acct-Input-Octets = 1000",
        "Acct-Input-Gigawords = 1",
        "Acct-Output-Octets = 5000",
    ]
    send("Interim-Update", *interim)
    # The same report again (a NAS that did not hear the answer sends it anew):
    # answered, counted once.
    send("Interim-Update", *interim)
    send(
        "Stop",
        "Acct-Input-Octets = 3000",
        "Acct-Input-Gigawords = 1",
        "Acct-Output-Octets = 7",
        "Acct-Output-Gigawords = 2",
    )
    usage = EndpointDailyUsage.objects.get(endpoint=idle)
    up, down = GIGAWORD + 3000, 2 * GIGAWORD + 7
    assert (usage.bytes_up, usage.bytes_down) == (up, down)
    idle.refresh_from_db()
    assert idle.state == State.IDLE
    stored = RadiusSession.objects.get(session_id=session)
    assert stored.ended_at is not None and stored.endpoint_id == idle.pk
    assert (stored.input_octets, stored.output_octets) == (up, down)
    assert NetworkEvent.objects.filter(type="session_update").count() == 1

    # The Usage tab shows those bytes.
    client.force_login(admin_member)
    page = client.get(reverse("inventory:endpoint_usage", args=[idle.iccid]))
    assert human_bytes(up + down) in page.content.decode()

    # The NAS restarts (Accounting-On): every session it had open ends.
    for other in ("5f2a0002", "5f2a0003"):
        assert radclient(radius.acct_port, "acct", accounting(imsi, "Start", other)).code
    idle.refresh_from_db()
    assert idle.state == State.ACTIVE
    assert RadiusSession.objects.filter(ended_at=None).count() == 2
    restarted = radclient(
        radius.acct_port, "acct", ["Acct-Status-Type = Accounting-On", 'NAS-Identifier = "pgw"']
    )
    assert restarted.code == "Accounting-Response"
    assert not RadiusSession.objects.filter(ended_at=None).exists()
    idle.refresh_from_db()
    assert idle.state == State.IDLE
    assert NetworkEvent.objects.filter(event_id__contains="-nasreset-").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_retransmitted_packet_is_answered_again_and_applied_once(fleet, radius):
    idle = fleet["idle"]
    request = rp.AcctPacket(secret=SECRET.encode(), dict=DICTIONARY)
    request["User-Name"] = imsi_of(idle)
    request["Acct-Status-Type"] = "Interim-Update"
    request["Acct-Session-Id"] = "retransmitted"
    request["Acct-Input-Octets"] = 1234
    request["Acct-Output-Octets"] = 4321
    raw = request.RequestPacket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        answers = []
        for _ in range(3):  # the very same datagram, three times
            sock.sendto(raw, ("127.0.0.1", radius.acct_port))
            data, _ = sock.recvfrom(4096)
            reply = request.CreateReply(packet=data)
            assert request.VerifyReply(reply, data)
            answers.append(data)
    assert answers[0] == answers[1] == answers[2]
    usage = EndpointDailyUsage.objects.get(endpoint=idle)
    assert (usage.bytes_up, usage.bytes_down) == (1234, 4321)
    assert NetworkEvent.objects.filter(type="session_update").count() == 1


@pytest.mark.django_db(transaction=True)
def test_wrong_secret_unknown_client_and_unsigned_requests_get_nothing(fleet, tmp_path):
    imsi = imsi_of(fleet["idle"])
    relaxed = add_client(require_message_authenticator=True)
    server = RadiusProcess(tmp_path / "radius.log")
    try:
        assert (
            radclient(server.auth_port, "auth", access(imsi), secret="not-the-secret", timeout=1)
            is None
        )
        assert (
            radclient(
                server.acct_port, "acct", accounting(imsi, "Start", "s1"), secret="x", timeout=1
            )
            is None
        )
        # BlastRADIUS: an Access-Request without Message-Authenticator is dropped...
        assert radclient(server.auth_port, "auth", access(imsi), sign=False, timeout=1) is None
    finally:
        server.stop()
    log = server.log.read_text()
    assert "bad_authenticator=2" in log and "no_message_authenticator=1" in log
    assert not NetworkEvent.objects.exists()

    # ...unless the client is relaxed for a legacy NAS; and a source no client
    # covers is dropped.
    relaxed.require_message_authenticator = False
    relaxed.save()
    add_client(address="127.0.0.9/32")
    server = RadiusProcess(tmp_path / "radius2.log")
    try:
        answer = radclient(server.auth_port, "auth", access(imsi), sign=False)
        assert answer is not None and answer.code == "Access-Accept"
        RadiusClient.objects.filter(pk=relaxed.pk).update(enabled=False)
    finally:
        server.stop()
    server = RadiusProcess(tmp_path / "radius3.log")
    try:
        assert radclient(server.auth_port, "auth", access(imsi), timeout=1) is None
    finally:
        server.stop()
    assert "unknown_client=1" in server.log.read_text()
    assert NetworkEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_simulate_network_drives_sessions_through_radius(fleet, radius):
    out = StringIO()
    call_command(
        "simulate_network",
        "--radius",
        "--account",
        "vantiq",
        "--auth-port",
        str(radius.auth_port),
        "--acct-port",
        str(radius.acct_port),
        "--secret",
        SECRET,
        "--duration",
        "3",
        "--rate",
        "40",
        "--concurrency",
        "2",
        "--seed",
        "7",
        stdout=out,
    )
    assert "Total:" in out.getvalue() and "timeouts 0" in out.getvalue()
    events = NetworkEvent.objects.filter(event_id__startswith="radius-")
    assert events.filter(type="session_start", status="accepted").exists()
    assert events.filter(type="session_update", status="accepted").exists()
    assert EndpointDailyUsage.objects.filter(endpoint=fleet["idle"]).exists()
    assert RadiusSession.objects.filter(endpoint=fleet["idle"]).exists()
