"""The real processes of the RADIUS tests: the portal's own server
(``manage.py radius`` against the test database) and FreeRADIUS's radclient as
the gateway."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.jobs.test_worker import test_database_url

BASE_DIR = Path(__file__).resolve().parents[2]
#: FreeRADIUS's own dictionaries (Debian freeradius-common), dictionary.3gpp included.
FREERADIUS_DICTIONARIES = "/usr/share/freeradius"
SECRET = "radius-test-secret-1"


class RadiusProcess:
    """``manage.py radius`` on free loopback ports, its output in ``log``."""

    def __init__(self, log: Path, *, settings: str = "tests.settings", extra_env=None):
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "DJANGO_SETTINGS_MODULE": settings,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "radius", "--auth-port", "0", "--acct-port", "0"],
            cwd=BASE_DIR,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        self.auth_port, self.acct_port = self._wait_for_ports()

    def _wait_for_ports(self) -> tuple[int, int]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(rb"auth (\d+), acct (\d+)", self.log.read_bytes())
            if match:
                return int(match[1]), int(match[2])
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the RADIUS server did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


@dataclass
class Answer:
    """One answer radclient printed: its code and attributes (name → values)."""

    code: str
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.attributes.get(name)
        return values[0] if values else None


def radclient(
    port: int,
    kind: str,
    attributes: list[str],
    *,
    secret: str = SECRET,
    retries: int = 1,
    timeout: float = 3,
    sign: bool = True,
) -> Answer | None:
    """Send one request with radclient (``kind`` is ``auth`` or ``acct``); the
    answer, or None if none came. radclient 3.2 computes a Message-Authenticator
    when the request names one (``sign``)."""
    lines = list(attributes)
    if sign and kind == "auth":
        lines.append("Message-Authenticator = 0x00")
    completed = subprocess.run(
        [
            "radclient",
            "-x",
            "-d",
            FREERADIUS_DICTIONARIES,
            "-r",
            str(retries),
            "-t",
            str(timeout),
            f"127.0.0.1:{port}",
            kind,
            secret,
        ],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    return parse_answer(completed.stdout)


def parse_answer(output: str) -> Answer | None:
    answer = None
    for line in output.splitlines():
        received = re.match(r"Received (\S+) Id", line)
        if received:
            answer = Answer(code=received[1])
            continue
        if answer is not None:
            attribute = re.match(r"\s+(\S+) = (.*)$", line)
            if attribute:
                value = attribute[2].strip().strip('"')
                answer.attributes.setdefault(attribute[1], []).append(value)
            elif line.startswith("Sent "):
                answer = None if answer.code is None else answer
                break
    return answer


class NasProcess:
    """A NAS's Disconnect listener (tests/network/nas.py) in its own process."""

    def __init__(self, log: Path, *, mode: str = "ack", host: str = "127.0.0.1"):
        self.log = log
        self.host = host
        log.touch()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.network.nas",
                "--host",
                host,
                "--secret",
                SECRET,
                "--mode",
                mode,
                "--log",
                str(log),
            ],
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        match = re.search(r"listening on (\d+)", line)
        if not match:
            self.stop()
            raise AssertionError(f"the NAS did not start: {line!r}")
        self.port = int(match[1])

    def requests(self) -> list[dict]:
        import json

        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
