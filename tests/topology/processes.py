"""The portal's real processes for the topology tests: ``manage.py`` commands,
gunicorn and job workers against a cluster of the test's own, and plain HTTP
to them (urllib; a cookie jar for a signed-in browser)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from tests.topology.cluster import free_port

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS = "tests.topology.process_settings"


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.pop("DB_STATEMENT_TIMEOUT", None)
    return {
        **env,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def manage(database_url: str, *args: str, **extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment(database_url, **extra),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Process:
    """A child process whose output goes to ``log``."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def gunicorn(
    database_url: str, log: Path, *, workers: int = 2, **extra: str
) -> tuple[Process, str]:
    port = free_port()
    env = environment(database_url, DB_CONN_MAX_AGE="60", **extra)
    process = Process(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
        ],  # fmt: skip
        env,
        log,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(base + "/healthz"), timeout=60, what=f"gunicorn on {base}")
    return process, base


def worker(database_url: str, log: Path, *args: str, **extra: str) -> Process:
    return Process(
        [sys.executable, "manage.py", "worker", *args], environment(database_url, **extra), log
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class Client:
    """HTTP to one base URL; keeps cookies (a signed-in session)."""

    def __init__(self, base: str, token: str = ""):
        self.base = base
        self.token = token
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect
        )

    def request(self, method: str, path: str, body=None, headers=None) -> Answer:
        data = None
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if isinstance(body, dict):
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif isinstance(body, str):
            data = body.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read())

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> Answer:
        return self.request("POST", path, body, **kwargs)

    def sign_in(self, username: str, password: str) -> None:
        page = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = self.post(
            "/login/",
            urllib.parse.urlencode(
                {"csrfmiddlewaretoken": token, "username": username, "password": password}
            ),
            headers={"Referer": self.base + "/login/"},
        )
        assert answer.status == 302, (answer.status, answer.text[:500])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
