"""``manage.py devserver [addrport]``: the development server and a job worker in
one command (what ``make run`` runs).

Both run as child processes whose output is printed line by line, prefixed
``web |`` and ``worker |``. Ctrl-C (or SIGTERM) stops both; if either exits on
its own, the other is stopped too and the command exits with its code, so a
broken worker is never silently missing. Production runs the two as separate
services instead (docs/production.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from django.core.management.base import BaseCommand

MANAGE = Path(__file__).resolve().parents[3] / "manage.py"
#: How long a child gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0


class Command(BaseCommand):
    help = "Run the development server and a background-job worker; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        commands = {
            "web": [sys.executable, str(MANAGE), "runserver", addrport],
            "worker": [sys.executable, str(MANAGE), "worker"],
        }
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
                ended = [(n, c.returncode) for n, c in children.items() if c.poll() is not None]
                if ended:
                    name, code = ended[0]
                    self.stderr.write(f"devserver: {name} exited with {code}; stopping the rest")
                    break
        except KeyboardInterrupt:
            pass
        self._stop(children)
        for printer in printers:
            printer.join(timeout=2)
        if code:
            sys.exit(code)

    def _relay(self, name: str, child: subprocess.Popen) -> None:
        for raw in child.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.stdout.write(f"{name:>6} | {line}")
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
