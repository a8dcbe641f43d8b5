"""``manage.py worker`` (jobs/management/commands/worker.py): it passes its
arguments to Procrastinate's worker and runs it once for --help (or --no-wait);
restarting it after a database restart is tested with real processes in
tests/topology/test_database_restart.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_arguments_reach_the_worker_and_help_runs_it_once():
    done = subprocess.run(
        [sys.executable, "manage.py", "worker", "--", "--help"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "procrastinate worker" in done.stdout
    assert "starting a new one" not in done.stderr
