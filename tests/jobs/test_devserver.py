"""``manage.py devserver`` (``make run``): the web server and the two workers
(jobs, webhook deliveries) in one command, every output visible, one signal
stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from bench.server import free_port
from tests.jobs.test_worker import BASE_DIR, test_database_url


@pytest.mark.django_db(transaction=True)
def test_devserver_runs_web_workers_and_radius_and_ctrl_c_stops_them(tmp_path):
    port = free_port()
    log = tmp_path / "devserver.log"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DEBUG": "1",
        # The RADIUS server on free ports: another run may hold 1812/1813.
        "RADIUS_AUTH_PORT": "0",
        "RADIUS_ACCT_PORT": "0",
    }
    with open(log, "wb") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "manage.py", "devserver", f"127.0.0.1:{port}", "--no-simulator"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            answered = False
            while time.monotonic() < deadline and not answered:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        answered = True
                except OSError:
                    time.sleep(0.3)
            while time.monotonic() < deadline and (
                log.read_text().count("Starting worker") < 3
                or "RADIUS listening" not in log.read_text()
            ):
                time.sleep(0.3)
            output = log.read_text()
            assert answered, output
            assert output.count("Starting worker") == 3, output
            assert "    jobs | " in output and "webhooks | " in output, output
            assert "on queues jobs, maintenance" in output, output
            assert "on queues webhooks, maintenance" in output, output
            assert "on queues radius" in output, output
            assert "     web | " in output, output
            assert "  radius | RADIUS listening on 127.0.0.1" in output, output

            supervisor.send_signal(signal.SIGINT)  # what Ctrl-C sends
            assert supervisor.wait(timeout=30) == 0
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    assert log.read_text().count("Stopped worker") == 3


@pytest.mark.django_db(transaction=True)
def test_devserver_runs_the_simulator_against_itself(tmp_path, account, group):
    """The living demo: network events with a serving network arrive by
    themselves, and Ctrl-C stops the simulator with the rest."""
    from inventory.models import Connectivity, NetworkEvent, State
    from tests.factories import EndpointFactory

    for _ in range(5):
        EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    port = free_port()
    log = tmp_path / "devserver.log"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DEBUG": "1",
        "RADIUS_AUTH_PORT": "0",
        "RADIUS_ACCT_PORT": "0",
    }
    env.pop("SIMULATOR", None)
    with open(log, "wb") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "manage.py", "devserver", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and NetworkEvent.objects.count() < 5:
                time.sleep(0.5)
            assert NetworkEvent.objects.count() >= 5, log.read_text()
            assert NetworkEvent.objects.exclude(plmn="").exists()
            assert Connectivity.objects.exclude(plmn="").exists()
            supervisor.send_signal(signal.SIGINT)
            assert supervisor.wait(timeout=30) == 0
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
    output = log.read_text()
    assert "   sim | Simulating 5 endpoints of vantiq" in output, output
    settled = NetworkEvent.objects.count()
    time.sleep(1.5)
    assert NetworkEvent.objects.count() == settled  # the simulator is gone too


def _embedded_postgres_of(data_dir) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or ())
            if proc.info["name"] == "postgres" and str(data_dir) in cmdline:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_ctrl_c_also_stops_the_embedded_postgresql(tmp_path):
    """Without DATABASE_URL the devserver and its children share the embedded
    PostgreSQL; Ctrl-C of ``make run`` must not leave it running."""
    data_dir = tmp_path / "pg"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PORTAL_PGDATA=str(data_dir), DEBUG="1", RADIUS_AUTH_PORT="0", RADIUS_ACCT_PORT="0")
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr.decode()[-2000:]
    port = free_port()
    log = tmp_path / "devserver.log"
    with open(log, "wb") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "manage.py", "devserver", f"127.0.0.1:{port}", "--no-simulator"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and "Starting worker" not in log.read_text():
                time.sleep(0.3)
            assert "Starting worker" in log.read_text(), log.read_text()
            assert _embedded_postgres_of(data_dir), "the embedded PostgreSQL is not running"
            supervisor.send_signal(signal.SIGINT)
            assert supervisor.wait(timeout=60) == 0, log.read_text()
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _embedded_postgres_of(data_dir):
        time.sleep(0.3)
    left = _embedded_postgres_of(data_dir)
    for pid in left:  # do not leave it behind for the rest of the run
        os.kill(pid, signal.SIGTERM)
    handles = data_dir / ".handle_pids.json"
    assert left == [], (
        "Ctrl-C left the embedded PostgreSQL running; attached: "
        f"{handles.read_text() if handles.exists() else '(no list)'}\n{log.read_text()[-3000:]}"
    )
