"""Requests that could outlive the server's timeout (docs/production.md
"gunicorn"): the shipped gunicorn.conf.py, the statement timeout it turns on for
web workers only, and what a statement cut off by it gives: the portal's own
page with its request id (JSON for the network API), and nothing changed.

The slow statement is a real one: a bulk suspend (or a network batch) waiting
for rows another transaction holds locked."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from inventory.models import Endpoint, History, NetworkEvent, SessionTeardown, State
from network.tokens import create_token
from tests.confirming import hidden_fields, text
from tests.factories import EndpointFactory
from tests.other_transaction import held_open

BASE_DIR = Path(settings.BASE_DIR)
SUSPEND = reverse("inventory:endpoint_bulk_suspend")
EVENTS = reverse("api:network_events")


def _environment(**chosen: str) -> dict[str, str]:
    """This process's environment for a child process, without pytest's
    variables and without the settings a test chooses itself."""
    own = ("DB_STATEMENT_TIMEOUT", "WEB_CONCURRENCY", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST") and k not in own}
    return {**env, **chosen}


def _test_database_url() -> str:
    """DATABASE_URL of the database this test runs in (xdist gives each worker
    its own), over TCP or, for the embedded server, its socket directory."""
    db = connection.settings_dict
    quote = urllib.parse.quote
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    netloc = (
        f"{quote(db['USER'] or '', safe='')}{password}@{quote(db['HOST'] or '', safe='')}{port}"
    )
    query = urllib.parse.urlencode(
        {k: db["OPTIONS"][k] for k in ("host", "port") if k in db["OPTIONS"]}
    )
    return f"postgresql://{netloc}/{quote(db['NAME'], safe='')}" + (f"?{query}" if query else "")


def active(account, group, n: int) -> list[Endpoint]:
    return [
        EndpointFactory(account=account, primary_group=group, state=State.ACTIVE) for _ in range(n)
    ]


def assert_nothing_changed(rows: list[Endpoint]) -> None:
    ids = [e.pk for e in rows]
    assert set(Endpoint.objects.filter(pk__in=ids).values_list("state", flat=True)) == {
        State.ACTIVE
    }
    assert not History.objects.filter(endpoint_id__in=ids).exists()
    assert not SessionTeardown.objects.filter(endpoint_id__in=ids).exists()


# --- the shipped configuration ---------------------------------------------------------

_READ_CONFIG = """
import json, os, sys
from gunicorn.app.wsgiapp import WSGIApplication

sys.argv = ["gunicorn"]
cfg = WSGIApplication().cfg
names = ["bind", "workers", "worker_class_str", "timeout", "graceful_timeout",
         "max_requests", "max_requests_jitter", "accesslog", "errorlog", "wsgi_app",
         "preload_app"]
print(json.dumps({**{n: getattr(cfg, n) for n in names},
                  "DB_STATEMENT_TIMEOUT": os.environ.get("DB_STATEMENT_TIMEOUT")}))
"""


def _gunicorn_config(**env: str) -> dict:
    """The configuration gunicorn reads from the repository's root, as it reads it."""
    result = subprocess.run(
        [sys.executable, "-c", _READ_CONFIG],
        cwd=BASE_DIR,
        env=_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_shipped_gunicorn_config():
    config = _gunicorn_config()
    assert config["wsgi_app"] == "config.wsgi:application"
    assert config["bind"] == ["127.0.0.1:8000"]
    assert config["worker_class_str"] == "sync"
    assert config["workers"] == min(2 * os.cpu_count() + 1, 8)
    assert (config["timeout"], config["graceful_timeout"]) == (60, 30)
    assert config["max_requests"] > 0 and 0 < config["max_requests_jitter"] < config["max_requests"]
    assert config["preload_app"] is True  # workers start with the portal imported
    assert config["accesslog"] is None  # the portal writes its own line per request
    assert config["errorlog"] == "-"
    # Below gunicorn's timeout, so the database gives up first.
    assert config["DB_STATEMENT_TIMEOUT"] == "50s"


_IMPORT_APPLICATION = """
import json, sys
import config.wsgi
from django.db import connections
print(json.dumps({
    "views": [m for m in ("inventory.views.endpoint_list", "api.routers.endpoints")
              if m in sys.modules],
    "open": [c.alias for c in connections.all(initialized_only=True) if c.connection],
}))
"""


def test_importing_the_application_imports_every_view_and_leaves_no_connection_open():
    """What the master does before it forks (``preload_app``): the views are
    imported there, once, and no database connection is left for the
    workers to share."""
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_APPLICATION],
        cwd=BASE_DIR,
        env=_environment(DATABASE_URL=_test_database_url()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert imported == {
        "views": ["inventory.views.endpoint_list", "api.routers.endpoints"],
        "open": [],
    }


def test_web_concurrency_and_a_chosen_statement_timeout_are_kept():
    config = _gunicorn_config(WEB_CONCURRENCY="3", DB_STATEMENT_TIMEOUT="20s")
    assert config["workers"] == 3
    assert config["DB_STATEMENT_TIMEOUT"] == "20s"


_SHOW_TIMEOUT = (
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('SHOW statement_timeout')\n"
    "    print(cursor.fetchone()[0])\n"
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("env", "shown"), [({}, "0"), ({"DB_STATEMENT_TIMEOUT": "1500ms"}, "1500ms")]
)
def test_only_processes_given_a_statement_timeout_are_bound(env, shown):
    """A management command (migrate, purges, the benchmark loaders) runs
    without DB_STATEMENT_TIMEOUT, so nothing cuts its statements off."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", _SHOW_TIMEOUT],
        cwd=BASE_DIR,
        env=_environment(
            DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=_test_database_url(), **env
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == shown


def test_a_malformed_statement_timeout_stops_the_start_with_a_clear_error():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=_environment(
            DJANGO_SETTINGS_MODULE="tests.settings",
            DATABASE_URL=_test_database_url(),
            DB_STATEMENT_TIMEOUT="50 s",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DB_STATEMENT_TIMEOUT" in result.stderr and "'50 s'" in result.stderr


# --- a statement cut off ------------------------------------------------------------------


def rows_locked_elsewhere(rows: list[Endpoint]):
    """Another transaction holds the rows locked (someone else's long bulk
    action) until the block ends."""
    return held_open(
        lambda: list(Endpoint.objects.select_for_update().filter(pk__in=[e.pk for e in rows]))
    )


@contextmanager
def statement_timeout(value: str):
    """On this test's connection (which the test client's views use), what
    DB_STATEMENT_TIMEOUT sets on every connection of a web worker."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %(value)s, false)", {"value": value})
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")


@pytest.mark.django_db(transaction=True)
def test_a_statement_cut_off_is_the_portals_503_page_and_changes_nothing(
    operator, account, group, caplog
):
    rows = active(account, group, 2)
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    shown = client.post(SUSPEND, {"ids": [e.iccid for e in rows]})
    assert "2 endpoints will be suspended" in text(shown)

    with rows_locked_elsewhere(rows), statement_timeout("300ms"), caplog.at_level(logging.INFO):
        started = time.monotonic()
        response = client.post(
            SUSPEND, hidden_fields(shown), headers={"X-Request-ID": "slow-suspend-0001"}
        )
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    page = text(response)
    assert "This took too long" in page
    assert "Nothing was changed" in page
    assert "Request id: slow-suspend-0001" in page
    assert response["X-Request-ID"] == "slow-suspend-0001"
    assert elapsed < 5
    assert_nothing_changed(rows)
    logged = {(r.name, r.levelno, getattr(r, "request_id", None)) for r in caplog.records}
    assert ("portal", logging.ERROR, "slow-suspend-0001") in logged  # with the traceback
    assert any(
        r.name == "portal.request" and r.access["status"] == 503 and r.access["path"] == SUSPEND
        for r in caplog.records
    )


@pytest.mark.django_db(transaction=True)
def test_the_network_api_answers_a_statement_cut_off_in_json(account, group):
    idle = EndpointFactory(account=account, state=State.IDLE, primary_group=group)
    token = create_token("core-1")[1]
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    batch = {
        "events": [
            {"id": "slow-1", "type": "session_start", "imsi": idle.imsis.first().imsi, "at": at}
        ]
    }

    with rows_locked_elsewhere([idle]), statement_timeout("300ms"):
        response = Client(raise_request_exception=False).post(
            EVENTS,
            json.dumps(batch),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "took too long" in response.json()["error"]
    assert not NetworkEvent.objects.exists()
    assert Endpoint.objects.get(pk=idle.pk).state == State.IDLE


# --- real gunicorn ---------------------------------------------------------------------------


class Browser:
    """Just enough of a browser to talk to gunicorn: cookies, the CSRF token,
    forms posted as a form posts them, error pages read like any page."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def open(self, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        data = None if form is None else urllib.parse.urlencode(form, doseq=True).encode()
        try:
            with self.opener.open(self.base + path, data, timeout=20) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def csrf_token(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def sign_in(self, username: str, password: str) -> str:
        self.open("/login/")
        form = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": self.csrf_token(),
        }
        return self.open("/login/", form)[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(server: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer within 60 s:\n{log.read_text()}")


@contextmanager
def gunicorn(tmp_path: Path, **env: str):
    """gunicorn started in the repository's root (so it reads gunicorn.conf.py
    there) on a free loopback port, against this test's database."""
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--control-socket",
                str(tmp_path / "gunicorn.ctl"),
            ],
            cwd=BASE_DIR,
            env=_environment(
                DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=_test_database_url(), **env
            ),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(server, base, log)
        yield base, log
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.django_db(transaction=True)
def test_gunicorn_with_the_shipped_config_serves_pages_and_bounds_statements(
    operator, account, group, tmp_path
):
    rows = active(account, group, 2)
    with gunicorn(tmp_path, WEB_CONCURRENCY="2", DB_STATEMENT_TIMEOUT="1s") as (base, log):
        browser = Browser(base)
        endpoints = browser.sign_in("op", "pw")
        assert all(e.iccid in endpoints for e in rows)
        status, _, shown = browser.open(
            SUSPEND, {"ids": [e.iccid for e in rows], "csrfmiddlewaretoken": browser.csrf_token()}
        )
        assert status == 200 and "2 endpoints will be suspended" in text(shown)

        with transaction.atomic():  # someone else's long transaction holds the rows
            list(Endpoint.objects.select_for_update().filter(pk__in=[e.pk for e in rows]))
            started = time.monotonic()
            status, headers, page = browser.open(SUSPEND, hidden_fields(shown))
            elapsed = time.monotonic() - started

    assert status == 503
    assert "This took too long" in text(page) and "Nothing was changed" in text(page)
    assert f"<code>{headers['X-Request-ID']}</code>" in page
    assert elapsed < 10  # the statement timeout, far below gunicorn's 60 s
    assert_nothing_changed(rows)
    written = log.read_text()
    assert written.count("Booting worker") == 2
    assert f"request_id={headers['X-Request-ID']} method=POST path={SUSPEND} status=503" in written
    assert '"POST /' not in written and '"GET /' not in written  # gunicorn's access log is off
