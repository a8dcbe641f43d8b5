"""``manage.py devserver [addrport]``: the development server, the workers, the
RADIUS server and the network simulator in one command (what ``make run``
runs): the jobs, webhook delivery and network workers of
``jobs.workers.WORKERS``, as production runs them.

All run as child processes whose output is printed line by line, prefixed
``web |``, ``jobs |``, ``webhooks |``, ``network |``, ``radius |`` and ``sim |``.
The simulator (a living demo: a few network events a second against this
server, docs/connectivity.md) runs unless ``--no-simulator`` is given or
``SIMULATOR=0`` is set; it gets a network token of its own, made anew at each
start. Ctrl-C (or SIGTERM) stops them all; if the web server, a worker or the
RADIUS server exits on its own, the rest is stopped too and the command exits
with its code, so a broken worker is never silently missing (the simulator may
end alone: an account without endpoints has nothing to simulate).

With the embedded PostgreSQL (no DATABASE_URL), the children attached to it
too; they end by a signal, which skips their exit handlers, so the handles
they left are cleared once they are gone, and this process, the last one
attached, stops the server as it exits. Production runs the web server, the
workers and the RADIUS server as separate services instead (docs/production.md).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

from jobs.workers import WORKERS

MANAGE = Path(__file__).resolve().parents[3] / "manage.py"
#: How long a child gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
#: The one child that may end alone (the others' end ends the command).
MAY_END_ALONE = ("sim",)
#: Network events a second the simulator posts: enough to watch things move.
SIMULATOR_RATE = 4
SIMULATOR_TOKEN_NAME = "devserver simulator"


def _simulator_token() -> str:
    """A fresh network token for the simulator (the last run's is replaced:
    only a token's hash is stored, so it cannot be read back)."""
    from inventory.models import NetworkToken

    NetworkToken.objects.filter(name=SIMULATOR_TOKEN_NAME).delete()
    out = io.StringIO()
    # The network app's own command (it prints the token on its last line).
    call_command("create_network_token", SIMULATOR_TOKEN_NAME, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def _descendants() -> list:
    """This process's children and theirs (psutil processes), or none without
    psutil (it comes with the embedded PostgreSQL's extras)."""
    try:
        import psutil
    except ImportError:
        return []
    return psutil.Process().children(recursive=True)


def release_handles(descendants: list) -> None:
    """With the embedded PostgreSQL: wait for the processes this command
    started (and theirs) to end, and forget their handles (signalled, their
    exit handlers never ran), so that this process is the last one attached
    and stops the server when it exits."""
    from django.conf import settings

    if os.environ.get("DATABASE_URL", "").strip():
        return
    from config.embedded_db import detach

    data_dir = Path(os.environ.get("PORTAL_PGDATA", Path(settings.BASE_DIR) / ".data" / "pg"))
    if data_dir.exists():
        detach(data_dir.absolute(), descendants, timeout=STOP_TIMEOUT)


class Command(BaseCommand):
    help = (
        "Run the development server, the workers (jobs, webhooks, network) and the "
        "RADIUS server; Ctrl-C stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-simulator",
            action="store_true",
            help="do not run the network simulator (also: SIMULATOR=0)",
        )
        parser.add_argument(
            "--simulator-account", default="vantiq", help="the account it simulates (vantiq)"
        )

    def handle(self, *args, addrport: str, **options):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        commands = {"web": [sys.executable, str(MANAGE), "runserver", addrport]}
        for name, arguments in WORKERS.items():
            # ``manage.py worker`` starts its Procrastinate worker again after a
            # database restart (jobs/management/commands/worker.py).
            commands[name] = [sys.executable, str(MANAGE), "worker", "--", *arguments]
        # RADIUS_BIND, RADIUS_AUTH_PORT and RADIUS_ACCT_PORT say where (docs/radius.md).
        commands["radius"] = [sys.executable, str(MANAGE), "radius"]
        simulate = not options["no_simulator"] and os.environ.get("SIMULATOR", "1") != "0"
        if simulate:
            host, _, port = addrport.rpartition(":")
            env["NETWORK_TOKEN"] = _simulator_token()
            commands["sim"] = [
                sys.executable,
                str(MANAGE),
                "simulate_network",
                "--url",
                f"http://{host or '127.0.0.1'}:{port or addrport}",
                "--account",
                options["simulator_account"],
                "--rate",
                str(SIMULATOR_RATE),
                "--batch",
                "5",
                "--devices",
                "500",
                "--duration",
                str(24 * 3600),
                "--quiet",
            ]
        children = {
            # Own process groups: runserver's reloader has a child of its own,
            # and a signal to the group reaches both.
            name: subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for name, command in commands.items()
        }
        printers = [
            threading.Thread(target=self._relay, args=(name, child), daemon=True)
            for name, child in children.items()
        ]
        for printer in printers:
            printer.start()
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        code = 0
        try:
            while not stopped.wait(0.2):
                ended = [
                    (n, c.returncode)
                    for n, c in children.items()
                    if n not in MAY_END_ALONE and c.poll() is not None
                ]
                if ended:
                    name, code = ended[0]
                    self.stderr.write(f"devserver: {name} exited with {code}; stopping the rest")
                    break
        except KeyboardInterrupt:
            pass
        descendants = _descendants()
        self._stop(children)
        for printer in printers:
            printer.join(timeout=2)
        release_handles(descendants)
        if code:
            sys.exit(code)

    def _relay(self, name: str, child: subprocess.Popen) -> None:
        for raw in child.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stdout.write(f"{name:>8} | {line}")
            self.stdout.flush()

    def _stop(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            self._signal(child, signal.SIGTERM)
        for name, child in children.items():
            try:
                child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"devserver: {name} did not stop in {STOP_TIMEOUT:.0f} s; killed")
                self._signal(child, signal.SIGKILL)
                child.wait()
            # What is left of its group (the reloader's server) goes too.
            self._signal(child, signal.SIGTERM)

    @staticmethod
    def _signal(child: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the whole group has ended
            os.killpg(child.pid, sig)
