"""``manage.py worker``: Procrastinate's worker, started again whenever it exits
on its own (what ``make run`` and the production unit run).

Procrastinate's worker stops (with any status, 0 included) when its LISTEN connection
dies, which a database restart or failover does to it. This command keeps one worker
(``manage.py procrastinate worker``) running as its child: when the child exits
without having been asked to, it waits (1 s, doubling up to 30 s while the
database stays away) and starts a fresh one, which connects anew. A job the lost
worker was running is taken up again once its heartbeat is stale
(``jobs.tasks.retry_stalled_jobs``) and resumes after its last committed chunk.

SIGTERM or SIGINT is passed on to the child (the running job stops after its
chunk and goes back to the queue), and the command then exits with the child's
status. If the command itself is killed, so is the child (Linux). A child that
ran for a minute or more resets the wait to 1 s.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.core.management.base import BaseCommand

MANAGE = Path(__file__).resolve().parents[3] / "manage.py"
FIRST_WAIT = 1.0
LONGEST_WAIT = 30.0
#: A child that ran this long was healthy: the next failure waits FIRST_WAIT again.
HEALTHY_RUN = 60.0

logger = logging.getLogger("jobs.worker")


class Command(BaseCommand):
    help = "Run the background-job worker and start it again whenever it exits on its own."

    def add_arguments(self, parser):
        parser.add_argument(
            "worker_args",
            nargs="*",
            help="passed to `procrastinate worker` (e.g. --queues jobs)",
        )

    def handle(self, *args, worker_args: list[str], **options):
        stopping = threading.Event()
        child: list[subprocess.Popen] = []

        def forward(signum, frame):
            stopping.set()
            if child and child[0].poll() is None:
                child[0].send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        wait = FIRST_WAIT
        while True:
            started = time.monotonic()
            process = subprocess.Popen(
                [sys.executable, str(MANAGE), "procrastinate", "worker", *worker_args],
                # Signals reach the child through this command only (a terminal's
                # Ctrl-C would otherwise reach it twice), and it dies with it.
                start_new_session=True,
                # config/database.py: a worker connects directly (WORKER_DATABASE_URL).
                env={**os.environ, "PORTAL_WORKER_PROCESS": "1"},
                preexec_fn=_die_with_parent,
            )
            child[:] = [process]
            code = _wait(process)
            # Procrastinate's worker that lost its database may stop "cleanly"
            # (status 0): only a stop we were asked for, or a run that was
            # meant to end (--help, --no-wait), ends this command.
            if stopping.is_set() or _runs_once(worker_args):
                sys.exit(code)
            if time.monotonic() - started >= HEALTHY_RUN:
                wait = FIRST_WAIT
            logger.warning("worker exited with status %s; starting a new one in %.0f s", code, wait)
            if stopping.wait(wait):
                sys.exit(code)
            wait = min(wait * 2, LONGEST_WAIT)


def _runs_once(worker_args: list[str]) -> bool:
    return any(arg in ONE_OFF_ARGS for arg in worker_args)


ONE_OFF_ARGS = {"-h", "--help", "--no-wait", "--one-shot"}


def _die_with_parent() -> None:
    """In the child: be killed when this command dies, however it dies (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not Linux: the child outlives a killed parent
        return
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


def _wait(process: subprocess.Popen) -> int:
    """The child's exit status; a signal handler may interrupt the wait."""
    while True:
        try:
            return process.wait()
        except InterruptedError:  # pragma: no cover - Python retries by itself
            continue
