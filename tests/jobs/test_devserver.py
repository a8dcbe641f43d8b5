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
            [sys.executable, "manage.py", "devserver", f"127.0.0.1:{port}"],
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
    assert log.read_text().count("Stopped worker") == 2
