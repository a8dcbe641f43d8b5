"""The RADIUS server when its database goes away (docs/radius.md "Applied
once"): ``manage.py radius`` as a real process against a PostgreSQL of the
test's own, whose postmaster is stopped with ``pg_ctl -m immediate``.

While the database is away the server stays up and answers nothing (the NAS
retransmits), one WARNING line per batch and no traceback, and nothing of those
requests is stored. Once the database is back, the very same datagrams (same
identifier, same Request Authenticator) get their answers, and an
Interim-Update retransmitted across the restart is stored once: its octets are
counted once. Then the server is killed with SIGKILL and a new one answers
again, repeats of answered reports still counted once."""

from __future__ import annotations

import socket
import time

import pytest
from pyrad import packet as rp

from inventory.models import IMSI, Endpoint, Group, NetworkEvent
from network.models import RadiusSession
from network.radius.packets import DICTIONARY
from tests.network.radius_peers import SECRET, RadiusProcess
from tests.topology import processes
from tests.topology.cluster import Cluster, bindir
from tests.topology.processes import wait_until
from usage.models import EndpointDailyUsage

pytestmark = [
    pytest.mark.topology,
    pytest.mark.skipif(bindir() is None, reason="no PostgreSQL binaries (PG_BINDIR)"),
]

SESSION = "away-1"


@pytest.fixture
def primary():
    cluster = Cluster("radius-away")
    try:
        # An Accounting-Response says "stored": that holds across a crash only
        # with the commit's WAL flushed (the cluster helper turns it off for
        # speed; with it off this test saw an answered report lost).
        cluster.init(synchronous_commit="on").start()
        cluster.execute("CREATE DATABASE portal")
        yield cluster
    finally:
        cluster.destroy()


class Nas:
    """A gateway that keeps each request's datagram, so that it can send the
    very same bytes again, as RFC 2865 retransmission asks."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.next_id = 1

    def packet(self, kind: str, **attributes) -> tuple[rp.Packet, bytes]:
        made = (rp.AuthPacket if kind == "auth" else rp.AcctPacket)(
            id=self.next_id, secret=SECRET.encode(), dict=DICTIONARY
        )
        self.next_id += 1
        for name, value in attributes.items():
            made[name.replace("_", "-")] = value
        if kind == "auth":
            made.add_message_authenticator()
        return made, made.RequestPacket()

    def exchange(self, packet: rp.Packet, raw: bytes, port: int, wait: float = 1.0):
        """Send ``raw`` once; its verified answer, or None after ``wait``."""
        self.sock.sendto(raw, ("127.0.0.1", port))
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, _ = self.sock.recvfrom(4096)
            except TimeoutError:
                return None
            if data[1] != packet.id:
                continue  # a late answer to an earlier request
            reply = packet.CreateReply(packet=data)
            # VerifyReply checks the Response Authenticator and the Message-Authenticator.
            assert reply.message_authenticator, "an answer without Message-Authenticator"
            assert packet.VerifyReply(reply, data), "an answer not signed with the secret"
            return reply
        return None

    def close(self):
        self.sock.close()


def table(model) -> str:
    return model._meta.db_table


def test_database_away_drops_requests_then_answers_their_retransmissions_once(primary, tmp_path):
    url = primary.url("portal")
    processes.manage(url, "migrate", "--noinput")
    processes.manage(url, "seed_demo", "--endpoints", "20", "--password", "demo-portal-2026")
    processes.manage(
        url, "create_radius_client", "pgw-1", "--address", "127.0.0.1/32", "--secret", SECRET
    )
    [(imsi, apn)] = primary.execute(
        f"""
        SELECT i.imsi, g.apn FROM {table(IMSI)} i
          JOIN {table(Endpoint)} e ON e.id = i.endpoint_id
          JOIN {table(Group)} g ON g.id = e.primary_group_id
         WHERE e.state IN ('idle', 'active') AND NOT e.imei_lock_enabled
           AND g.operator_policy = 'any' AND g.apn <> ''
         ORDER BY i.imsi LIMIT 1
        """,
        "portal",
    )

    def usage() -> tuple[int, int]:
        [(up, down)] = primary.execute(
            f"""
            SELECT coalesce(sum(u.bytes_up), 0), coalesce(sum(u.bytes_down), 0)
              FROM {table(EndpointDailyUsage)} u JOIN {table(IMSI)} i USING (endpoint_id)
             WHERE i.imsi = %(imsi)s
            """,
            "portal",
            {"imsi": imsi},
        )
        return int(up), int(down)

    # The demo's own usage of that endpoint: what RADIUS adds is counted from it.
    seeded = usage()

    def stored() -> dict:
        [(events,)] = primary.execute(
            f"SELECT count(*) FROM {table(NetworkEvent)} WHERE event_id LIKE 'radius-%%'", "portal"
        )
        [session] = primary.execute(
            f"SELECT input_octets, output_octets FROM {table(RadiusSession)} "
            "WHERE session_id = %(session)s",
            "portal",
            {"session": SESSION},
        ) or [None]
        up, down = usage()
        return {"events": events, "usage": (up - seeded[0], down - seeded[1]), "session": session}

    env = {"DATABASE_URL": url}
    server = RadiusProcess(tmp_path / "radius.log", settings=processes.SETTINGS, extra_env=env)
    nas = Nas()
    try:
        # Before: a session opens and a first report is counted.
        identity = {"User_Name": imsi, "3GPP-IMSI": imsi, "Called_Station_Id": apn}

        def accounting(status: str, up: int, down: int):
            """An Accounting-Request of the session, built anew (a new identifier)."""
            return nas.packet(
                "acct",
                **identity,
                Acct_Status_Type=status,
                Acct_Session_Id=SESSION,
                Acct_Input_Octets=up,
                Acct_Output_Octets=down,
            )

        accept = nas.exchange(*nas.packet("auth", **identity), server.auth_port)
        assert accept is not None and accept.code == rp.AccessAccept
        start = nas.packet("acct", **identity, Acct_Status_Type="Start", Acct_Session_Id=SESSION)
        assert nas.exchange(*start, server.acct_port) is not None
        first = accounting("Interim-Update", 1_000, 5_000)
        assert nas.exchange(*first, server.acct_port) is not None
        before = stored()
        assert before == {"events": 3, "usage": (1_000, 5_000), "session": (1_000, 5_000)}

        primary.stop("immediate")

        # Away: an Access-Request and the next report, each sent three times,
        # get nothing; the server is still running.
        access = nas.packet("auth", **identity)
        report = accounting("Interim-Update", 4_000, 9_000)
        for _ in range(3):
            assert nas.exchange(*access, server.auth_port) is None
            assert nas.exchange(*report, server.acct_port) is None
        assert server.process.poll() is None, "the RADIUS server exited"
        log = server.log.read_text()
        warnings = [line for line in log.splitlines() if "database unavailable" in line]
        # Each datagram was a batch of its own: six batches, six WARNING lines.
        assert len(warnings) == 6, log[-3000:]
        assert all(" WARNING " in line and "batch of 1 " in line for line in warnings), warnings
        assert "Traceback" not in log, log[-3000:]

        primary.start()
        primary.wait_ready()
        # Nothing of what arrived while it was away was stored, not even in part.
        assert stored() == before

        # Back: the same datagrams, retransmitted, are answered.
        accepted = wait_until(
            lambda: nas.exchange(*access, server.auth_port),
            timeout=60,
            what="the Access-Request was not answered after the restart",
        )
        assert accepted.code == rp.AccessAccept
        assert accepted["Framed-IP-Address"] == accept["Framed-IP-Address"]
        assert nas.exchange(*report, server.acct_port, wait=5) is not None
        # Its answer lost on the way, the NAS sends it yet again (the same
        # bytes: answered from the reply cache), and a new identifier (a NAS
        # that rebuilt the packet: a duplicate of the stored event).
        assert nas.exchange(*report, server.acct_port, wait=5) is not None
        rebuilt = accounting("Interim-Update", 4_000, 9_000)
        assert nas.exchange(*rebuilt, server.acct_port, wait=5) is not None
        after = stored()
        # One event more for the Access-Request, one for the report: counted once.
        assert after == {"events": 5, "usage": (4_000, 9_000), "session": (4_000, 9_000)}
        assert "Traceback" not in server.log.read_text()

        # SIGKILL, then a new server: it answers, and the repeats of answered
        # reports it has never seen (its reply cache is empty) change nothing.
        server.kill()
        server.stop()
        server = RadiusProcess(
            tmp_path / "radius-2.log", settings=processes.SETTINGS, extra_env=env
        )
        assert nas.exchange(*report, server.acct_port, wait=5) is not None
        assert nas.exchange(*first, server.acct_port, wait=5) is not None
        again = nas.exchange(*access, server.auth_port, wait=5)
        assert again is not None and again.code == rp.AccessAccept
        assert again["Framed-IP-Address"] == accept["Framed-IP-Address"]
        last = accounting("Stop", 6_000, 10_000)
        assert nas.exchange(*last, server.acct_port, wait=5) is not None
        assert stored() == {"events": 6, "usage": (6_000, 10_000), "session": (6_000, 10_000)}

        # The new server counts what it leaves unanswered while the database
        # is away (its totals line at exit; /metrics in production).
        primary.stop("immediate")
        late = nas.packet("auth", **identity)
        assert nas.exchange(*late, server.auth_port) is None
        primary.start()
        primary.wait_ready()
        answered = wait_until(
            lambda: nas.exchange(*late, server.auth_port),
            timeout=60,
            what="the second server did not answer after the restart",
        )
        assert answered.code == rp.AccessAccept
    finally:
        nas.close()
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    # One unanswered request per WARNING line (at least the one sent while away).
    unanswered = log.count("not answered: database unavailable")
    assert unanswered >= 1
    assert (
        "RADIUS server stopped: access_accept=2 accounting_response=3 "
        f"unanswered_database={unanswered}\n" in log
    ), log[-2000:]
