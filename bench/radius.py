"""Section 16, RADIUS (docs/radius.md): ``manage.py radius`` in its own process
against the benchmark database, asked by 50 concurrent senders
(network/radius/gateway.py, one request in flight each):

- Access-Requests per second, with p50/p99;
- Accounting-Requests (Interim-Update) per second for sessions opened
  beforehand, with p50/p99;
- the same two through FreeRADIUS's ``radclient -p 50`` as a cross-check (when
  it is installed);
- the time from a bulk suspend of endpoints online over RADIUS to every
  Disconnect-Request answered by a loopback NAS (tests/network/nas.py).

The endpoints it touches are restored afterwards (bench/snapshot.py); the
RADIUS rows it made are deleted.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from django.db import connection
from django.db.models import Max

from bench import cpu
from bench.in_service import in_service_endpoints
from bench.measure import percentile, summarise
from bench.pages import Row
from bench.picks import Picks
from bench.snapshot import Snapshot
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import IMSI, IN_SERVICE_STATES, Endpoint, SessionTeardown
from network.models import RadiusClient, RadiusCursor, RadiusDisconnect, RadiusSession
from network.radius import disconnect, gateway

BASE_DIR = Path(__file__).resolve().parent.parent
SECTION = "17 RADIUS"
SENDERS = 50
AUTH_TARGET = 2_000
ACCT_TARGET = 5_000
P99_TARGET_MS = 50.0
DISCONNECT_TARGET_S = 60.0
DEVICES = 20_000
ACCT_SESSIONS = 2_000
SECRET = "bench-radius-secret-0123"
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)
_SESSIONS = _quote(RadiusSession._meta.db_table)


class RadiusServer:
    """``manage.py radius`` on free ports with the benchmark's settings."""

    def __init__(self, db_url: str):
        self.log_path = BASE_DIR / "bench" / "results" / "radius.log.tmp"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "radius", "--auth-port", "0", "--acct-port", "0"],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            match = re.search(rb"auth (\d+), acct (\d+)", self.log_path.read_bytes())
            if match:
                self.auth_port, self.acct_port = int(match[1]), int(match[2])
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"manage.py radius did not start: {self.log_path.read_text()[-500:]}")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.log_path.read_text()


def _devices(p: Picks, limit: int) -> tuple[list[gateway.Device], int]:
    """In-service endpoints of the account (IMSI, IMEI, primary APN), and the
    highest endpoint id among them (the snapshot's bound)."""
    rows = in_service_endpoints(p.account, limit=limit)
    devices = [
        gateway.Device(imsi=row.imsi, imei=row.imei or f"35{row.imsi[-13:]}", apn=row.apn)
        for row in rows
    ]
    return devices, max(row.id for row in rows)


def _row(
    name: str,
    target: str,
    kind: str,
    totals: gateway.Totals,
    seconds: float,
    goal: float,
    usage: cpu.Usage,
):
    row = Row(section=SECTION, name=name, target=target)
    latencies = totals.latencies[kind]
    if not latencies:
        row.error = f"no answers ({totals.timeouts} timeouts)"
        return row
    rate = len(latencies) / seconds
    p99 = percentile([s * 1000 for s in latencies], 0.99)
    row.portal = summarise(latencies)
    row.value = f"{rate:,.0f} requests/s"
    row.met = rate >= goal and p99 <= P99_TARGET_MS
    row.note = (
        f"{len(latencies):,} answers in {seconds:.1f} s; p50 {row.portal.median_ms:.1f} ms, "
        f"p99 {p99:.1f} ms; {totals.timeouts:,} timeouts; "
        + ", ".join(f"{n:,} {k}" for k, n in sorted(totals.answers.items()))
    )
    row.note += f"; {usage.note()}"
    row.extra = {"p99_ms": round(p99, 2), "answers": dict(totals.answers), **usage.as_dict()}
    return row


def _radclient(port: int, kind: str, lines: list[list[str]]) -> tuple[float, int, str]:
    """``radclient -p 50`` over a file of requests: (seconds, answered, output tail)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requests:
        for attributes in lines:
            requests.write("\n".join(attributes) + "\n\n")
    try:
        started = time.perf_counter()
        completed = subprocess.run(
            [
                "radclient",
                "-q",
                "-s",
                "-p",
                str(SENDERS),
                "-r",
                "3",
                "-t",
                "3",
                "-f",
                requests.name,
                f"127.0.0.1:{port}",
                kind,
                SECRET,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        seconds = time.perf_counter() - started
    finally:
        os.unlink(requests.name)
    output = completed.stdout + completed.stderr
    failed = re.search(r"Failed\s*:\s*(\d+)", output)
    answered = len(lines) - (int(failed[1]) if failed else 0)
    return seconds, answered, output[-300:]


def _radclient_rows(server: RadiusServer, devices: list[gateway.Device], count: int) -> list[Row]:
    rows = []
    picks = [devices[n % len(devices)] for n in range(count)]
    auth = [
        [
            f'User-Name = "{d.imsi}"',
            f'3GPP-IMSI = "{d.imsi}"',
            f'Called-Station-Id = "{d.apn}"',
            "Message-Authenticator = 0x00",
        ]
        for d in picks
    ]
    run = uuid.uuid4().hex[:8]
    acct = [
        [
            f'User-Name = "{d.imsi}"',
            "Acct-Status-Type = Interim-Update",
            f'Acct-Session-Id = "rc-{run}-{n}"',
            f"Acct-Input-Octets = {1000 + n}",
            f"Acct-Output-Octets = {5000 + n}",
        ]
        for n, d in enumerate(picks)
    ]
    for kind, port, lines in (
        ("auth", server.auth_port, auth),
        ("acct", server.acct_port, acct),
    ):
        row = Row(
            section=SECTION,
            name=f"radclient -p {SENDERS}: {'Access' if kind == 'auth' else 'Accounting'}-Requests",
            target="(cross-check)",
        )
        seconds, answered, tail = _radclient(port, kind, lines)
        row.value = f"{answered / seconds:,.0f} requests/s"
        row.note = f"{answered:,} of {len(lines):,} answered in {seconds:.1f} s"
        if answered == 0:
            row.error = f"radclient got no answer: {tail}"
        row.met = None if answered else False
        rows.append(row)
        print(f"  {row.name:<44} {row.value} {row.error}", flush=True)
    return rows


def _open_sessions(client: RadiusClient, endpoint_ids_sql: str, params: list) -> int:
    """Mark the chosen endpoints Active with an open RADIUS session each (as
    the gateway's Start leaves them), set-based."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_ENDPOINTS} e SET state = 'active' WHERE e.id IN ({endpoint_ids_sql})",
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO {_SESSIONS}
                   (client_id, session_id, account_id, endpoint_id, imsi, user_name, framed_ip,
                    input_octets, output_octets, started_at, updated_at)
            SELECT %s, 'bench-' || e.id, e.account_id, e.id, i.imsi, i.imsi, NULL, 0, 0,
                   now(), now()
              FROM {_ENDPOINTS} e
              JOIN LATERAL (SELECT imsi FROM {_IMSIS} WHERE endpoint_id = e.id
                             ORDER BY imsi LIMIT 1) i ON true
             WHERE e.id IN ({endpoint_ids_sql})
            """,
            [client.pk, *params],
        )
        return cursor.rowcount


def _disconnect_row(p: Picks, client: RadiusClient, size: int) -> Row:
    row = Row(
        section=SECTION,
        name=f"Disconnect-Requests of a {size:,}-endpoint suspend",
        target=f"<= {DISCONNECT_TARGET_S:.0f} s",
    )
    chosen = (
        f"SELECT e2.id FROM {_ENDPOINTS} e2 WHERE e2.account_id = %s "
        "AND e2.state = ANY(%s) ORDER BY e2.id LIMIT %s"
    )
    params = [p.account.pk, [str(s) for s in IN_SERVICE_STATES], size]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT array_agg(id) FROM ({chosen}) c", params)
        ids = cursor.fetchone()[0] or []
    snapshot = Snapshot("e.id = ANY(%s)", [ids])
    snapshot.take()
    nas = subprocess.Popen(
        [sys.executable, "-m", "tests.network.nas", "--secret", SECRET],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(re.search(r"listening on (\d+)", nas.stdout.readline())[1])
        client.coa_port = port
        client.save(update_fields=["coa_port"])
        opened = _open_sessions(client, "SELECT unnest(%s::bigint[])", [ids])
        # Only this suspend's teardowns are sent (not those of earlier sections).
        last = SessionTeardown.objects.aggregate(last=Max("id"))["last"] or 0
        RadiusCursor.objects.update_or_create(name=disconnect.CURSOR, defaults={"position": last})
        started = time.perf_counter()
        result = lifecycle.suspend(
            endpoints=Endpoint.objects.filter(pk__in=ids), actor=Actor.SYSTEM, reason="bench"
        )
        suspended = time.perf_counter() - started
        totals = disconnect.run(deadline_seconds=600)
        seconds = time.perf_counter() - started
        acked = totals.get("acked", 0)
        row.value = f"{seconds:.1f} s"
        row.met = seconds <= DISCONNECT_TARGET_S and acked == opened
        row.note = (
            f"{result.changed:,} suspended in {suspended:.1f} s, then {acked:,} of {opened:,} "
            f"Disconnect-Requests acknowledged (collect, send, History) in "
            f"{seconds - suspended:.1f} s; {totals}"
        )
        row.extra = {"totals": totals, "suspend_s": round(suspended, 2)}
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {exc}"
    finally:
        nas.terminate()
        nas.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {_quote(RadiusDisconnect._meta.db_table)} WHERE client_id = %s",
                [client.pk],
            )
            cursor.execute(f"DELETE FROM {_SESSIONS} WHERE client_id = %s", [client.pk])
        snapshot.restore()
        snapshot.drop()
    print(f"  {row.name:<44} {row.value} {row.error}", flush=True)
    return row


def measure_radius(*, p: Picks, db_url: str, seconds: float, smoke: bool) -> list[Row]:
    devices, last_id = _devices(p, DEVICES)
    snapshot = Snapshot("e.account_id = %s AND e.id <= %s", [p.account.pk, last_id])
    snapshot.take()
    client = RadiusClient(name=f"bench-{uuid.uuid4().hex[:8]}", address="127.0.0.1/32")
    client.set_secret(SECRET)
    RadiusClient.objects.filter(address="127.0.0.1/32").delete()
    client.save()
    rows: list[Row] = []
    server = None
    try:
        server = RadiusServer(db_url)

        def load(mode: str) -> tuple[gateway.Totals, float]:
            sim = gateway.Gateway(
                host="127.0.0.1",
                auth_port=server.auth_port,
                acct_port=server.acct_port,
                secret=SECRET,
                # Accounting reports on sessions opened first (untimed): enough
                # of them that no sender waits on another's session.
                devices=devices if mode == "auth" else devices[:ACCT_SESSIONS],
                senders=SENDERS,
                seed=1,
                mode=mode,
            )

            async def go():
                if mode == "acct":
                    await sim.open_sessions()
                with cpu.Meter(server.process.pid) as meter:
                    started = time.perf_counter()
                    totals = await sim.run(duration=seconds)
                    took = time.perf_counter() - started
                return totals, took, meter

            totals, took, meter = asyncio.run(go())
            usage[mode] = meter.usage(len(totals.latencies[mode]))
            return totals, took

        usage: dict[str, cpu.Usage] = {}
        totals, took = load("auth")
        rows.append(
            _row(
                f"Access-Requests, {SENDERS} senders",
                f">= {AUTH_TARGET:,}/s, p99 <= {P99_TARGET_MS:.0f} ms",
                "auth",
                totals,
                took,
                AUTH_TARGET,
                usage["auth"],
            )
        )
        print(f"  {rows[-1].name:<44} {rows[-1].value} {rows[-1].note}", flush=True)
        totals, took = load("acct")
        rows.append(
            _row(
                f"Accounting-Requests (Interim-Update), {SENDERS} senders",
                f">= {ACCT_TARGET:,}/s, p99 <= {P99_TARGET_MS:.0f} ms",
                "acct",
                totals,
                took,
                ACCT_TARGET,
                usage["acct"],
            )
        )
        print(f"  {rows[-1].name:<44} {rows[-1].value} {rows[-1].note}", flush=True)
        if shutil.which("radclient"):
            rows += _radclient_rows(server, devices, 2_000 if smoke else 10_000)
    except Exception as exc:
        row = Row(section=SECTION, name="RADIUS load", error=f"{type(exc).__name__}: {exc}")
        rows.append(row)
    finally:
        if server is not None:
            server.stop()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {_SESSIONS} WHERE client_id = %s", [client.pk])
        snapshot.restore()
        snapshot.drop()
    size = min(100_000, p.endpoints // 3)
    rows.append(_disconnect_row(p, client, size))
    client.delete()
    return rows
