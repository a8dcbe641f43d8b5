"""Disconnect-Requests (RFC 5176) from the rows the lifecycle writes, to a real
NAS listener on loopback (tests/network/nas.py, pyrad's server side) that
verifies each request's authenticators with the shared secret."""

from __future__ import annotations

import pytest

from inventory import lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, History, HistoryAction, State
from network.models import DisconnectState, RadiusClient, RadiusDisconnect, RadiusSession
from network.radius import disconnect
from tests.factories import EndpointFactory, GroupFactory
from tests.network.radius_peers import SECRET, NasProcess, RadiusProcess, radclient

APN = "iot.vantiq.example"


def add_client(name: str, address: str, coa_port: int) -> RadiusClient:
    client = RadiusClient(name=name, address=address, coa_port=coa_port)
    client.set_secret(SECRET)
    client.save()
    return client


@pytest.fixture
def group(account):
    return GroupFactory(account=account, name="fleet", apn=APN, vslice__subnet="100.64.0.0/16")


def open_session(client: RadiusClient, endpoint: Endpoint, session_id: str, ip: str):
    """A session as the accounting Start left it (the server's path is tested
    in test_radius_server.py)."""
    return RadiusSession.objects.create(
        client=client,
        session_id=session_id,
        account_id=endpoint.account_id,
        endpoint=endpoint,
        imsi=endpoint.imsis.first().imsi,
        user_name=endpoint.imsis.first().imsi,
        framed_ip=ip,
    )


def suspend(*endpoints: Endpoint) -> None:
    result = lifecycle.suspend(
        endpoints=Endpoint.objects.filter(pk__in=[e.pk for e in endpoints]),
        actor=Actor.SYSTEM,
        reason="test",
    )
    assert result.changed == len(endpoints)


def disconnect_history(endpoint: Endpoint) -> list[History]:
    return list(History.objects.filter(endpoint=endpoint, action=HistoryAction.RADIUS_DISCONNECT))


@pytest.mark.django_db(transaction=True)
def test_a_suspended_endpoints_session_is_disconnected_at_its_nas(account, group, tmp_path):
    nas = NasProcess(tmp_path / "nas.jsonl", mode="ack")
    try:
        add_client("pgw-1", "127.0.0.1/32", nas.port)
        endpoint = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
        imsi = endpoint.imsis.first().imsi
        # The session starts through RADIUS as a gateway would start it.
        server = RadiusProcess(tmp_path / "radius.log")
        try:
            accept = radclient(
                server.auth_port,
                "auth",
                [
                    f'User-Name = "{imsi}"',
                    f'Called-Station-Id = "{APN}"',
                    'Acct-Session-Id = "s-77"',
                ],
            )
            assert accept.code == "Access-Accept"
            start = radclient(
                server.acct_port,
                "acct",
                [
                    f'User-Name = "{imsi}"',
                    "Acct-Status-Type = Start",
                    'Acct-Session-Id = "s-77"',
                    f"Framed-IP-Address = {accept.get('Framed-IP-Address')}",
                ],
            )
            assert start.code == "Accounting-Response"
        finally:
            server.stop()

        endpoint.refresh_from_db()
        assert endpoint.state == State.ACTIVE
        suspend(endpoint)
        totals = disconnect.run()
        assert totals["collected"] == 1 and totals["acked"] == 1

        [request] = nas.requests()
        assert request == {
            "verified": True,
            "user_name": imsi,
            "session_id": "s-77",
            "framed_ip": "100.64.0.1",
        }
        row = RadiusDisconnect.objects.get()
        assert (
            row.state == DisconnectState.ACKED and row.attempts == 1 and row.reason == "suspended"
        )
        [history] = disconnect_history(endpoint)
        assert history.reason == "Disconnect-ACK from pgw-1"
        assert history.changes["session"] == "s-77"
        # Nothing is sent twice.
        again = disconnect.run()
        assert again["collected"] == 0 and "acked" not in again
        assert len(nas.requests()) == 1
    finally:
        nas.stop()


@pytest.mark.django_db(transaction=True)
def test_nak_503_counts_as_done_and_ends_the_session(account, group, tmp_path):
    nas = NasProcess(tmp_path / "nas.jsonl", mode="nak503")
    try:
        client = add_client("pgw-1", "127.0.0.1/32", nas.port)
        endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
        session = open_session(client, endpoint, "gone-1", "100.64.0.7")
        suspend(endpoint)
        assert disconnect.run()["gone"] == 1
        assert len(nas.requests()) == 1  # not retried
        session.refresh_from_db()
        assert session.ended_at is not None
        [history] = disconnect_history(endpoint)
        assert "session not found (503)" in history.reason
    finally:
        nas.stop()


@pytest.mark.django_db(transaction=True)
def test_a_silent_nas_is_given_up_without_holding_back_another(account, group, tmp_path, settings):
    settings.RADIUS_DISCONNECT_TIMEOUT = 0.2
    settings.RADIUS_DISCONNECT_ATTEMPTS = 3
    silent = NasProcess(tmp_path / "silent.jsonl", mode="silent", host="127.0.0.2")
    answering = NasProcess(tmp_path / "answering.jsonl", mode="ack")
    try:
        dead = add_client("pgw-dead", "127.0.0.2/32", silent.port)
        alive = add_client("pgw-alive", "127.0.0.1/32", answering.port)
        quiet = [
            EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
            for _ in range(3)
        ]
        served = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
        for n, endpoint in enumerate(quiet):
            open_session(dead, endpoint, f"dead-{n}", f"100.64.0.{10 + n}")
        open_session(alive, served, "alive-1", "100.64.0.20")
        suspend(*quiet, served)

        totals = disconnect.run()
        assert totals["acked"] == 1 and totals["given_up"] == 3
        # Retried with backoff (3 attempts) before the NAS was taken for silent;
        # its other requests were not each retried again.
        received = silent.requests()
        assert all(request["verified"] for request in received)
        assert 3 <= len(received) <= 3 * 3
        assert len(answering.requests()) == 1
        for endpoint in quiet:
            [history] = disconnect_history(endpoint)
            assert history.reason.startswith("pgw-dead did not answer")
            assert "given up" in history.reason
        assert disconnect_history(served)[0].reason == "Disconnect-ACK from pgw-alive"
        assert not RadiusDisconnect.objects.filter(state=DisconnectState.PENDING).exists()
    finally:
        silent.stop()
        answering.stop()
