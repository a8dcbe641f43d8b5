"""Reset connectivity end to end over RADIUS (docs/connectivity.md "Reset
connectivity", docs/radius.md "Disconnects"): a session started through the
real server (``manage.py radius``, asked by radclient as the gateway), reset
through the customer API and through the portal's bulk action (a job), and the
Disconnect-Request received by a NAS listener on loopback (tests/network/nas.py)
that checks its Request Authenticator and Message-Authenticator with the shared
secret. What the NAS answers (ACK, NAK 503, nothing) is read back where a
customer reads it: the endpoint's History through the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory.models import Endpoint, HistoryAction, State
from jobs.models import Action, Job
from network.models import DisconnectState, RadiusClient, RadiusDisconnect, RadiusSession
from network.radius import disconnect
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.confirming import confirm
from tests.factories import EndpointFactory, GroupFactory
from tests.inventory.test_connectivity import connectivity
from tests.network.radius_peers import SECRET, NasProcess, RadiusProcess, radclient

APN = "iot.vantiq.example"


@pytest.fixture
def group(transactional_db, account):
    return GroupFactory(account=account, name="fleet", apn=APN, vslice__subnet="100.64.0.0/16")


@pytest.fixture
def api(account) -> ApiClient:
    return ApiClient(make_token(account, Role.OPERATOR)[1])


class Gateway:
    """The NAS's two halves: radclient sending to the portal's RADIUS server
    from 127.0.0.1, and the Disconnect listener the portal sends to, under
    one client row (its address, its ``coa_port``, one secret)."""

    def __init__(self, tmp_path, *, mode: str):
        self.nas = NasProcess(tmp_path / "nas.jsonl", mode=mode)
        self.client = RadiusClient(name="pgw-1", address="127.0.0.1/32", coa_port=self.nas.port)
        self.client.set_secret(SECRET)
        self.client.save()
        self.server = RadiusProcess(tmp_path / "radius.log")

    def start_session(self, endpoint: Endpoint, session_id: str) -> str:
        """Access-Request then Accounting-Start, as a PGW opens a data
        session; the address the portal gave."""
        imsi = endpoint.imsis.first().imsi
        identity = [
            f'User-Name = "dev-{session_id}@{APN}"',
            f'3GPP-IMSI = "{imsi}"',
            f'Called-Station-Id = "{APN}"',
            '3GPP-SGSN-MCC-MNC = "23415"',
            "3GPP-RAT-Type = EUTRAN",
        ]
        accept = radclient(self.server.auth_port, "auth", identity)
        assert accept is not None and accept.code == "Access-Accept"
        ip = accept.get("Framed-IP-Address")
        start = radclient(
            self.server.acct_port,
            "acct",
            [
                *identity,
                "Acct-Status-Type = Start",
                f'Acct-Session-Id = "{session_id}"',
                f"Framed-IP-Address = {ip}",
            ],
        )
        assert start is not None and start.code == "Accounting-Response"
        return ip

    def stop_session(self, endpoint: Endpoint, session_id: str) -> None:
        """The Accounting-Stop a NAS sends once it has torn the session down."""
        imsi = endpoint.imsis.first().imsi
        stop = radclient(
            self.server.acct_port,
            "acct",
            [
                f'3GPP-IMSI = "{imsi}"',
                "Acct-Status-Type = Stop",
                f'Acct-Session-Id = "{session_id}"',
                "Acct-Input-Octets = 1200",
                "Acct-Output-Octets = 3400",
            ],
        )
        assert stop is not None and stop.code == "Accounting-Response"

    def close(self) -> None:
        self.server.stop()
        self.nas.stop()


@pytest.fixture
def gateway(request, group, tmp_path):
    """``@pytest.mark.parametrize("gateway", [mode], indirect=True)`` picks how
    the NAS answers Disconnect-Requests; ``ack`` otherwise."""
    made = Gateway(tmp_path, mode=getattr(request, "param", "ack"))
    yield made
    made.close()


def online(group, gateway: Gateway, session_id: str) -> tuple[Endpoint, str]:
    endpoint = EndpointFactory(account=group.account, state=State.IDLE, primary_group=group)
    ip = gateway.start_session(endpoint, session_id)
    endpoint.refresh_from_db()
    assert endpoint.state == State.ACTIVE
    return endpoint, ip


def disconnect_rows(api: ApiClient, endpoint: Endpoint) -> list[dict]:
    """The endpoint's History entries of Disconnect-Requests, through the API."""
    response = api.get(f"/api/v1/endpoints/{endpoint.iccid}/history")
    assert response.status_code == 200, response.content
    return [
        row
        for row in response.json()["results"]
        if row["action"] == HistoryAction.RADIUS_DISCONNECT.value
    ]


@pytest.mark.django_db(transaction=True)
def test_api_reset_sends_the_session_its_disconnect_and_the_device_connects_again(
    group, gateway, api
):
    endpoint, ip = online(group, gateway, "sess-reset-1")

    response = api.post(f"/api/v1/endpoints/{endpoint.iccid}/reset", {"reason": "modem hung"})
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 1
    totals = disconnect.run()
    assert (totals["collected"], totals["acked"]) == (1, 1)

    # The NAS got one request, signed with the secret (Request Authenticator
    # and Message-Authenticator verified), naming the session as the NAS
    # reported it: its User-Name, Acct-Session-Id and address.
    assert gateway.nas.requests() == [
        {
            "verified": True,
            "user_name": f"dev-sess-reset-1@{APN}",
            "session_id": "sess-reset-1",
            "framed_ip": ip,
        }
    ]
    row = RadiusDisconnect.objects.get()
    assert (row.state, row.attempts, row.reason) == (DisconnectState.ACKED, 1, "reset")
    [history] = disconnect_rows(api, endpoint)
    assert history["reason"] == "Disconnect-ACK from pgw-1"
    assert history["actor"] == "radius"
    assert history["changes"] == {
        "nas": "pgw-1",
        "session": "sess-reset-1",
        "ip": ip,
        "teardown": "reset",
        "result": "acked",
    }
    # An ACK is not the end of the session: the NAS's Accounting-Stop is.
    assert connectivity(api, endpoint)["rule"] == "online"
    gateway.stop_session(endpoint, "sess-reset-1")
    after = connectivity(api, endpoint)
    assert (after["status"], after["rule"]) == ("attached", "attached")
    assert after["session"]["ended_at"] is not None
    assert (after["session"]["bytes_up"], after["session"]["bytes_down"]) == (1200, 3400)

    # The device's next session is accepted as usual, and nothing is sent twice.
    assert gateway.start_session(endpoint, "sess-reset-2") == ip
    assert connectivity(api, endpoint)["rule"] == "online"
    assert disconnect.run()["collected"] == 0
    assert len(gateway.nas.requests()) == 1


@pytest.mark.django_db(transaction=True)
def test_bulk_reset_from_the_list_disconnects_each_open_session(
    client, operator, group, gateway, api
):
    first, first_ip = online(group, gateway, "bulk-1")
    second, second_ip = online(group, gateway, "bulk-2")
    # An endpoint without a RADIUS session is reset too, but has nothing to disconnect.
    idle = EndpointFactory(account=group.account, state=State.IDLE, primary_group=group)

    client.force_login(operator)
    response = confirm(
        client,
        reverse("inventory:endpoint_bulk_reset"),
        {"ids": [first.iccid, second.iccid, idle.iccid]},
    )
    assert response.status_code == 302
    job = Job.objects.get(action=Action.RESET)
    assert (job.changed, job.total) == (3, 3)

    totals = disconnect.run()
    assert (totals["collected"], totals["acked"]) == (2, 2)
    received = sorted(gateway.nas.requests(), key=lambda r: r["session_id"])
    assert received == [
        {
            "verified": True,
            "user_name": f"dev-bulk-1@{APN}",
            "session_id": "bulk-1",
            "framed_ip": first_ip,
        },
        {
            "verified": True,
            "user_name": f"dev-bulk-2@{APN}",
            "session_id": "bulk-2",
            "framed_ip": second_ip,
        },
    ]
    for endpoint, session in ((first, "bulk-1"), (second, "bulk-2")):
        [history] = disconnect_rows(api, endpoint)
        assert history["reason"] == "Disconnect-ACK from pgw-1"
        assert history["changes"]["session"] == session
    assert disconnect_rows(api, idle) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["nak503"], indirect=True)
def test_a_nak_503_means_the_session_is_gone_and_ends_it(group, gateway, api):
    """Session-Context-Not-Found: the NAS no longer has it, which is what the
    reset wanted; done after one attempt and the session is marked ended."""
    endpoint, ip = online(group, gateway, "gone-1")
    assert api.post(f"/api/v1/endpoints/{endpoint.iccid}/reset", {}).status_code == 200

    totals = disconnect.run()
    assert totals["gone"] == 1
    [request] = gateway.nas.requests()
    assert request["verified"] and request["session_id"] == "gone-1"
    assert RadiusSession.objects.get(session_id="gone-1").ended_at is not None
    row = RadiusDisconnect.objects.get()
    assert (row.state, row.attempts) == (DisconnectState.GONE, 1)
    [history] = disconnect_rows(api, endpoint)
    assert history["reason"] == "Disconnect-NAK from pgw-1: session not found (503)"
    assert history["changes"]["result"] == "gone"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["silent"], indirect=True)
def test_a_nas_that_never_answers_is_retried_with_backoff_then_given_up(
    group, gateway, api, settings
):
    settings.RADIUS_DISCONNECT_TIMEOUT = 0.2
    settings.RADIUS_DISCONNECT_ATTEMPTS = 3
    endpoint, ip = online(group, gateway, "silent-1")
    assert api.post(f"/api/v1/endpoints/{endpoint.iccid}/reset", {}).status_code == 200

    totals = disconnect.run()
    assert totals["given_up"] == 1
    # The same request each time (3 attempts), every one verifiable.
    received = gateway.nas.requests()
    assert len(received) == 3
    assert all(r == received[0] for r in received) and received[0]["verified"]
    row = RadiusDisconnect.objects.get()
    assert (row.state, row.attempts) == (DisconnectState.GIVEN_UP, 3)
    [history] = disconnect_rows(api, endpoint)
    assert history["reason"] == "pgw-1 did not answer (3 attempts over 1.4 s); given up"
    # Given up is not ended: the portal still holds the session open, as the
    # NAS never said otherwise, and the card says online.
    assert RadiusSession.objects.get(session_id="silent-1").ended_at is None
    assert connectivity(api, endpoint)["rule"] == "online"
    # A later run does not send it again.
    assert disconnect.run()["collected"] == 0
    assert len(gateway.nas.requests()) == 3
